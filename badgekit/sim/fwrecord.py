"""Run the firmware's recording path on a 16 kHz mono file; the same code on both interpreters.

This module is plain MicroPython-compatible Python: CPython imports it and calls
`record()`, the MicroPython unix port runs it as a script (`micropython fwrecord.py
key=value ...`). It reads the file through `firmware.hw.mic.WavMic` (as if from the
microphone), runs `firmware.recorder.Recorder` and writes clips through
`firmware.clips.sink.FolderSink`; the last line it prints is a JSON summary.

``state=DIR``: the badge's state folder (``badgekit sim badge --state``, where the badge
keeps ``sync.json`` as firmware.badge does). An enrolled badge seals its clips (format
2) with the clip key it derives from its enrollment secret at boot
(``firmware.clips.mac.clip_key_of``, exactly as firmware.badge opens its store); the key
never leaves this process. An unenrolled badge records format 1 clips, as a badge does.
"""

import json
import sys

from firmware import recorder
from firmware.clips import mac as clipmac
from firmware.clips import sink as clipsink
from firmware.hw import mic
from firmware.sync import state as badge_state

__all__ = ["record", "main"]

_INTS = ("seq", "start_epoch", "start_ms", "gain_q8", "input_offset", "session_offset",
         "preroll_ms", "hangover_ms", "min_clip_ms", "max_clip_ms", "fast", "raw")


def record(path, out, badge, session, seq=0, start_epoch=0, start_ms=0, gain_q8=256,
           input_offset=0, session_offset=0, prev_sha256=None, raw=0, fast=-1, source=None,
           state=None, **gate):
    """Record `path` (or the mic object `source`) into clips in folder `out`; return the
    summary dict."""
    clip_key = None
    if state:
        st = badge_state.BadgeState(state + "/sync.json", badge)
        if st.secret:  # enrolled: as firmware.badge opens its store
            clip_key = clipmac.clip_key_of(st.secret)
    src = source if source is not None else mic.WavMic(path, raw=bool(raw))
    sink = clipsink.FolderSink(out, prev_sha256=prev_sha256, clip_key=clip_key)
    clips = []  # type: list
    rec = recorder.Recorder(
        sink, badge, session, seq=seq, start_epoch=start_epoch, start_ms=start_ms,
        session_offset=session_offset, input_offset=input_offset, gain_q8=gain_q8,
        fast=None if fast < 0 else bool(fast), on_clip=clips.append, **gate)
    try:
        frames = recorder.record_stream(src, rec)
    finally:
        src.close()
    return {
        "frames": frames,
        "clips": clips,
        "next_seq": rec.seq,
        "kept_samples": rec.kept_samples,
        "health": rec.health().as_dict(),
        "fast": rec.fast,
        "sealed": clip_key is not None,
    }


def main(argv):
    opts = {}
    for arg in argv:
        k, _, v = arg.partition("=")
        opts[k] = int(v) if k in _INTS else v
    summary = record(opts.pop("path"), opts.pop("out"), opts.pop("badge"), opts.pop("session"),
                     **opts)
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])

"""Heap used while recording under the MicroPython unix port, and allocations per frame.

Runs the whole recording path (WavMic -> Recorder -> FolderSink) on a 5-minute meeting
(pink noise, 10 dB SNR), firmware loaded as .mpy as on the badge, and reports, in the
same run:
- the heap the recorder holds (gc.mem_alloc after gc.collect, minus the heap in use
  before it was built: imports and the interpreter do not count);
- the peak of that figure, sampled after every clip and every 250 frames;
- the smallest `micropython -X heapsize=...` that records the whole meeting (bisection),
  against the import baseline + 64 KiB;
- allocations per frame in steady state: gc.mem_alloc() before and after every frame
  that neither opens nor closes a clip (opening a clip allocates its metadata, once).

    .venv/bin/python bench/record_memory.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from badgecore import mpy
from badgekit.meeting import build_meeting, shared_speech_dir, write_wav

LIMIT = 64 * 1024

_CODE = """
import gc, json
from firmware import recorder, dsp
from firmware.clips import sink as clipsink
from firmware.hw import mic
gc.collect()
base = gc.mem_alloc()
src = mic.WavMic(%(wav)r)
peak = [0]
def sample(*_):
    gc.collect()
    used = gc.mem_alloc() - base
    if used > peak[0]:
        peak[0] = used
sink = clipsink.FolderSink(%(out)r)
rec = recorder.Recorder(sink, 'BENCH', 'S', start_epoch=1795600800, on_clip=sample)
sample()
built = peak[0]
frames = 0
steady = 0
alloc_frames = 0
while True:
    buf = rec.buffer()
    n = src.readinto(buf)
    if n <= 0:
        break
    was_in = rec.gate.in_clip
    clips = rec.clips
    a0 = gc.mem_alloc()
    rec.push(n)
    a1 = gc.mem_alloc()
    if rec.gate.in_clip == was_in and rec.clips == clips:  # no clip opened or closed
        steady += 1
        if a1 > a0:
            alloc_frames += 1
    frames += 1
    if frames %% 250 == 0:
        sample()
rec.finish()
sample()
print(json.dumps({'base': base, 'built': built, 'peak': peak[0], 'frames': frames,
                  'clips': rec.clips, 'steady': steady, 'alloc_frames': alloc_frames}))
"""


def precompile(dest: Path) -> Path:
    """firmware/ as .mpy for the unix port (x64 native code for viper), like the badge's
    /lib: imports then load bytecode instead of compiling source on the heap."""
    from badgecore.paths import FIRMWARE_DIR, REPO_ROOT

    for src in mpy.firmware_modules():
        rel = src.relative_to(REPO_ROOT).with_suffix(".mpy")
        mpy.cross_compile(src, dest / rel, arch="x64")
    assert FIRMWARE_DIR.is_dir()
    return dest


_IDLE = """
import gc, json
from firmware import recorder, dsp
from firmware.clips import sink as clipsink
from firmware.hw import mic
gc.collect()
print(json.dumps({'ok': 1}))
"""


def min_heap(code: str, lib: Path, lo: int = 16 * 1024, hi: int = 512 * 1024) -> int:
    """Smallest `-X heapsize` (to 512 bytes) with which `code` runs to the end."""
    def ok(size: int) -> bool:
        proc = mpy.run(code=code, heap=str(size), timeout=600, check=False, extra_path=[lib])
        return proc.returncode == 0

    if not ok(hi):
        raise RuntimeError(f"does not run even with {hi} bytes of heap")
    while hi - lo > 512:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def run(wav: Path, out: Path, heap: str | None, lib: Path) -> dict:
    code = _CODE % {"wav": str(wav), "out": str(out)}
    proc = mpy.run(code=code, heap=heap, timeout=600, check=False, extra_path=[lib])
    if proc.returncode != 0:
        return {"error": (proc.stderr.decode().strip().splitlines() or ["exit code "
                                                                        f"{proc.returncode}"])[-1]}
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def main() -> int:
    speech = shared_speech_dir()
    if speech is None:
        print("needs ../shared/data/speech beside the repository", file=sys.stderr)
        return 2
    m = build_meeting(sorted(speech.glob("*.wav")), seed=4, min_seconds=300, noise="pink",
                      snr_db=10)
    with tempfile.TemporaryDirectory() as td:
        wav = write_wav(Path(td) / "meeting.wav", m.pcm)
        lib = precompile(Path(td) / "lib")
        free = run(wav, Path(td) / "a", None, lib)
        idle_heap = min_heap(_IDLE, lib)
        rec_heap = min_heap(_CODE % {"wav": str(wav), "out": str(Path(td) / "b")}, lib)
    print(f"meeting: {free['frames'] * 0.02:.1f} s, {free['clips']} clips")
    print(f"heap in use before the recorder (interpreter + imports): {free['base']} bytes")
    print(f"recorder built (ring of frames, buffers, gate, encoder): {free['built']} bytes")
    print(f"peak while recording (sampled after each clip and every 5 s): {free['peak']} bytes "
          f"= {free['peak'] / 1024:.1f} KiB (target <= 64 KiB: "
          f"{'PASS' if free['peak'] <= LIMIT else 'FAIL'})")
    budget = free["base"] + LIMIT
    print(f"smallest -X heapsize that records the whole meeting: {rec_heap} bytes (interpreter, "
          f"imported code, fragmentation and GC included); import-only baseline + 64 KiB = "
          f"{budget} bytes: {'PASS' if rec_heap <= budget else 'FAIL'}")
    print(f"  (a script that only imports the same modules needs {idle_heap} bytes: loading "
          "code peaks higher than the recorder adds)")
    ok_lock = free["alloc_frames"] == 0 and free["steady"] > 0
    print(f"frames that neither open nor close a clip: {free['steady']} of {free['frames']}; "
          f"of these, frames that allocated (gc.mem_alloc grew): {free['alloc_frames']} "
          f"({'PASS: none' if ok_lock else 'FAIL'}); tests/firmware also runs steady-state "
          "frames under micropython.heap_lock()")
    return 0 if free["peak"] <= LIMIT and rec_heap <= budget and ok_lock else 1


if __name__ == "__main__":
    sys.exit(main())

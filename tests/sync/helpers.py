"""Shared helpers for the sync tests: clip folders, a simulated serial badge, CLI runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from badgekit.sim.badge_cmd import start_serial_badge
from firmware.clips import fmt as clipfmt
from firmware.clips.sink import FolderSink

__all__ = ["make_clips", "SerialBadge", "cli", "spool_clips"]


def _block(i: int) -> bytes:
    pred = (i * 37) % 2000 - 1000
    head = pred.to_bytes(2, "little", signed=True) + bytes([20, 0])
    return head + bytes(((j * 7 + i) & 0x77) for j in range(clipfmt.BLOCK_ALIGN - 4))


def make_clips(folder: Path, badge: str, n: int, blocks_each: int = 20,
               start_epoch: int = 1_764_000_000) -> list[dict]:
    """``n`` chained clips (seq 0..n-1) as `badgekit sim record` writes them."""
    sink = FolderSink(str(folder))
    out = []
    for seq in range(n):
        sink.open_clip({"badge": badge, "session": f"{badge}-s1", "seq": seq,
                        "start_epoch": start_epoch + seq * 60, "sample_rate": 16000,
                        "session_offset_samples": seq * 16000 * 60})
        for b in range(blocks_each):
            sink.write_block(_block(seq * 1000 + b))
        out.append(sink.close_clip())
    return out


class SerialBadge:
    """The real firmware under MicroPython on a pty (badgekit.sim.badge_cmd)."""

    def __init__(self, clips: Path, probe: bool = False, heap: str | None = None,
                 compiled: bool = False, extra_args: tuple[str, ...] = (),
                 main: Path | None = None) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="bk-sync-"))
        self.proc, self.port, self._slave, line = start_serial_badge(
            clips, self.work, probe=probe, heap=heap, compiled=compiled, extra_args=extra_args,
            main=main)
        self.ready = json.loads(line)

    def close(self) -> str:
        out = ""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            out = self.proc.communicate(timeout=10)[0].decode(errors="replace")
        except (subprocess.TimeoutExpired, ValueError):
            pass
        try:
            os.close(self._slave)
        except OSError:
            pass
        shutil.rmtree(self.work, ignore_errors=True)
        return out

    def __enter__(self) -> SerialBadge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60
        ) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "badgekit", *args], capture_output=True,
                          text=True, timeout=timeout, env=e)


def spool_clips(spool: Path) -> dict[str, Path]:
    return {p.name[:-len(".custody.json")]: p for p in spool.glob("*/*/*.custody.json")}


def cut_after(t, after_bytes: int):
    """Make transport ``t`` really drop its link once ``after_bytes`` have arrived."""
    from companion.errors import LinkError

    orig = t.chunks

    async def chunks():
        async for data in orig():
            if t.bytes_in >= after_bytes:
                keep = len(data) - (t.bytes_in - after_bytes)
                if keep > 0:
                    yield data[:keep]
                await t.close()
                raise LinkError("link cut")
            yield data

    t.chunks = chunks
    return t


def check_spool(spool: Path, sides: list[dict]) -> None:
    """Every clip exactly once, intact and chained; nothing partial left behind."""
    from firmware.clips import fmt as clipfmt

    got = spool_clips(spool)
    assert sorted(got) == sorted(s["clip_id"] for s in sides)
    for badge in {s["badge"] for s in sides}:
        led = [json.loads(x) for x in (spool / badge / ".ledger.jsonl").read_text().splitlines()]
        seqs = [e["seq"] for e in led]
        assert len(seqs) == len(set(seqs))
    prev: dict[str, str] = {}
    for side in sorted(sides, key=lambda s: s["seq"]):
        wav = got[side["clip_id"]].with_name(side["clip_id"] + ".wav")
        with open(wav, "rb") as f:
            clipfmt.verify_wav(f, prev_sha256=prev.get(side["badge"], clipfmt.ZERO_HASH),
                               expect_sha256=side["sha256"])
        prev[side["badge"]] = side["sha256"]
    assert not [p for p in spool.rglob("*.partial")]

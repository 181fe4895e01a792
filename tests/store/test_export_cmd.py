"""`badgekit sim store …` and `badgekit sim export`: a store image end to end."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from badgekit.cli import app
from firmware.clips import fmt as clipfmt
from firmware.clips import sink as clipsink


def _folder_clips(folder: Path, n: int) -> list[dict]:
    sink = clipsink.FolderSink(str(folder))
    out = []
    for seq in range(n):
        sink.open_clip({"badge": "sim9", "session": "m1", "seq": seq, "start_epoch": 1764000000 + 30 * seq,
                        "start_ms": 0, "session_offset_samples": 16000 * seq, "offset_samples": 0,
                        "sample_rate": 16000})
        for i in range(20):
            sink.write_block(bytes([i, 0, i % 89, 0]) + bytes((i * 3 + j) & 0xFF for j in range(252)))
        out.append(sink.close_clip(20 * 505 - 33))
    return out


def test_store_image_fill_status_export(micropython, tmp_path):
    run = CliRunner()
    image = tmp_path / "badge.img"
    r = run.invoke(app, ["sim", "store", "init", str(image), "--size-kib", "512"])
    assert r.exit_code == 0, r.output
    assert image.stat().st_size == 512 * 1024
    assert (tmp_path / "badge.img.keys.json").exists()
    again = run.invoke(app, ["sim", "store", "init", str(image)])
    assert again.exit_code == 2 and "exists" in again.output

    src = _folder_clips(tmp_path / "rec", 3)
    r = run.invoke(app, ["sim", "store", "fill", str(image), "--from", str(tmp_path / "rec")])
    assert r.exit_code == 0, r.output
    assert "stored 3 clip(s)" in r.output

    r = run.invoke(app, ["sim", "store", "status", str(image), "--json"])
    st = json.loads(r.output)
    assert st["clips"]["closed"] == 3 and st["next_seq"] == 3 and not st["warnings"]

    r = run.invoke(app, ["sim", "export", str(image), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "exported 3 clip(s)" in r.output
    prev = clipfmt.ZERO_HASH
    for seq, want in enumerate(src):
        wav = tmp_path / "out" / f"sim9-{seq:08d}.wav"
        info = clipfmt.verify_wav(io.BytesIO(wav.read_bytes()), prev_sha256=prev)
        prev = info.sha256
        side = json.loads(wav.with_suffix(".json").read_text())
        assert side["samples"] == want["samples"] and side["session_offset_samples"] == 16000 * seq
        assert side["badge"] == "sim9" and not side["recovered"]
        subprocess.run(["sox", str(wav), "-n"], check=True)


def test_export_errors_are_one_line(tmp_path):
    run = CliRunner()
    bogus = tmp_path / "x.img"
    bogus.write_bytes(b"\x00" * 4096 * 4)
    r = run.invoke(app, ["sim", "export", str(bogus), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "no key" in r.output
    r = run.invoke(app, ["sim", "export", str(bogus), "--out", str(tmp_path / "o"), "--key", "00" * 16])
    assert r.exit_code == 2 and "not a mountable littlefs image" in r.output
    assert "Traceback" not in r.output

"""`badgekit sim record`: any input format, both interpreters, identical clips sox can play."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware import adpcm
from firmware.clips import fmt as clipfmt
from tests.firmware.helpers import read_pcm, sox_decode

START = "2026-11-25T10:00:00.500Z"


def _badgekit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "badgekit", "sim", "record", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def meeting_wav(tmp_path_factory, speech) -> Path:
    """Two talkers with pauses, resampled to 44.1 kHz stereo (the CLI must convert it)."""
    d = tmp_path_factory.mktemp("in")
    parts = []
    for name in ("asr_example_zh", "IT0011W0001", "TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000"):
        x = read_pcm(speech[name]).astype(np.float64)
        x *= 10 ** (-26 / 20) * 32768 / np.sqrt(np.mean(x**2))
        parts += [np.zeros(16000 * 3), x]
    parts.append(np.zeros(16000 * 3))
    rng = np.random.default_rng(1)
    mix = np.concatenate(parts) + rng.normal(0, 30, sum(len(p) for p in parts))
    mono = d / "mono16k.wav"
    from badgekit.sim.audio_in import write_pcm_wav

    write_pcm_wav(mono, np.clip(mix, -32768, 32767).astype(np.int16))
    out = d / "stereo44k.wav"
    subprocess.run(["sox", "-D", str(mono), "-r", "44100", "-c", "2", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def both(meeting_wav, tmp_path_factory):
    outs = {}
    for interp in ("micropython", "cpython"):
        out = tmp_path_factory.mktemp(interp)
        proc = _badgekit(str(meeting_wav), "--out", str(out), "--interpreter", interp,
                         "--badge", "BK42", "--start-time", START, "--max-clip-ms", "3000")
        assert proc.returncode == 0, proc.stderr
        outs[interp] = out
    return outs


def test_interpreters_write_identical_clip_audio(both):
    mp = sorted(p.name for p in both["micropython"].glob("*.wav"))
    cp = sorted(p.name for p in both["cpython"].glob("*.wav"))
    assert mp == cp and len(mp) >= 3
    for name in mp:
        assert (both["micropython"] / name).read_bytes() == (both["cpython"] / name).read_bytes()


def test_sidecars_chain_and_cover_the_speech(both, meeting_wav):
    out = both["micropython"]
    sides = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    prev = "0" * 64
    for k, s in enumerate(sides):
        assert s["clip_id"] == f"BK42-{k:08d}" and s["seq"] == k and s["badge"] == "BK42"
        assert s["prev_sha256"] == prev
        with open(out / f"{s['clip_id']}.wav", "rb") as f:
            info = clipfmt.verify_wav(f, prev_sha256=prev, expect_sha256=s["sha256"])
        assert info.trailer.samples == s["samples"]
        prev = s["sha256"]
        assert s["session"] == "20261125-100000-500"
        assert s["offset_samples"] == s["session_offset_samples"]
        t_ms = 500 + s["offset_samples"] * 1000 // 16000
        assert (s["start_epoch"], s["start_ms"]) == (1795600800 + t_ms // 1000, t_ms % 1000)
        assert s["samples"] <= 3000 * 16
    # every utterance lies inside clips: 3 s silence, talker, 3 s silence, ...
    kept = np.zeros(len(sides) and max(s["offset_samples"] + s["samples"] for s in sides), bool)
    for s in sides:
        kept[s["offset_samples"]: s["offset_samples"] + s["samples"]] = True
    assert kept[16000 * 3: 16000 * 3 + 16000 * 5].all()  # the first talker (5.5 s)
    assert kept.mean() < 0.9  # silence was dropped


def test_sox_plays_the_clips_and_audio_matches_the_input(both, meeting_wav):
    out = both["cpython"]
    side = json.loads(sorted(out.glob("*.json"))[0].read_text())
    wav = out / f"{side['clip_id']}.wav"
    info = subprocess.run(["soxi", str(wav)], capture_output=True, text=True, check=True).stdout
    compact = info.replace(" ", "")
    assert "SampleRate:16000" in compact and "Channels:1" in compact and "IMAADPCM" in compact
    decoded = sox_decode(wav)[: side["samples"]]
    with open(wav, "rb") as f:
        wi = clipfmt.read_wav(f)
    ours = np.array(adpcm.decode(wav.read_bytes()[wi.data_offset:], side["samples"]), np.int16)
    assert np.array_equal(decoded, ours)
    # the clip is the input (16 kHz mono, DC-filtered) at ADPCM quality
    mono = subprocess.run(["sox", "-D", str(meeting_wav), "-r", "16000", "-c", "1", "-t", "raw",
                           "-e", "signed", "-b", "16", "-"], capture_output=True, check=True).stdout
    src = np.frombuffer(mono, "<i2")[side["offset_samples"]: side["offset_samples"] + side["samples"]]
    err = src.astype(float) - ours
    assert 10 * np.log10((src.astype(float) ** 2).sum() / (err**2).sum()) > 20


def test_unreadable_and_empty_inputs_exit_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    empty = tmp_path / "empty.wav"
    from badgekit.sim.audio_in import write_pcm_wav

    write_pcm_wav(empty, np.zeros(0, np.int16))
    for path in (bad, empty, tmp_path / "missing.wav"):
        proc = _badgekit(str(path), "--out", str(tmp_path / "o"), "--interpreter", "cpython")
        assert proc.returncode == 2, (path, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr


def test_an_enrolled_badges_state_seals_every_clip_as_the_badge_would(tmp_path, speech, micropython):
    """`sim record --state DIR`: the clip key comes from the badge's enrollment in DIR
    (firmware.clips.mac.clip_key_of of its secret, as firmware.badge derives it at boot);
    an unenrolled badge's state gives format 1 clips, as on the badge."""
    from firmware.clips import mac as clipmac
    from firmware.sync.state import BadgeState

    secret = bytes(range(32))
    enrolled, fresh = tmp_path / "enrolled", tmp_path / "fresh"
    enrolled.mkdir()
    fresh.mkdir()
    st = BadgeState(str(enrolled / "sync.json"), "BK-S1")
    st.secret, st.branch, st.agent = secret, "b1", "a"
    st.save()
    wav = str(speech["IT0011W0001"])
    for state, out in ((enrolled, tmp_path / "sealed"), (fresh, tmp_path / "plain")):
        r = _badgekit(wav, "--out", str(out), "--badge", "BK-S1", "--state", str(state), "--start-time", START)
        assert r.returncode == 0, r.stderr
    sealed, plain = sorted((tmp_path / "sealed").glob("*.wav")), sorted((tmp_path / "plain").glob("*.wav"))
    assert sealed and len(sealed) == len(plain)
    for p in sealed:
        with open(p, "rb") as f:
            assert clipmac.verify_wav(f, clipmac.clip_key_of(secret)).status == clipmac.AUTHENTICATED
        with open(p, "rb") as f:
            assert clipmac.verify_wav(f, clipmac.clip_key_of(bytes(32))).status == clipmac.NO_KEY
    for p in plain:
        with open(p, "rb") as f:
            assert clipmac.verify_wav(f).status == clipmac.UNAUTHENTICATED
    bad = _badgekit(wav, "--out", str(tmp_path / "x"), "--state", str(tmp_path / "missing"))
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "\n" not in bad.stderr.strip()

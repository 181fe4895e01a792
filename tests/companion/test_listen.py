"""`listen --mic` on PortAudio: real speech through an ALSA `file` PCM becomes spool clips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware.clips import fmt as clipfmt
from tests.companion.alsa_mic import make_mic

PAD_S = 1.0  # silence before the speech (and 3 s after) so the gate has to find it


def _listen(mic, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = mic.env(os.environ)
    env["BADGEKIT_DATA"] = str(tmp / "data")
    env["BADGEKIT_CONFIG"] = str(tmp / "cfg")
    env.pop("BADGEKIT_COMPANION_SETTINGS", None)
    return subprocess.run([sys.executable, "-m", "badgekit", "companion", "listen", *args],
                          env=env, capture_output=True, text=True, timeout=120)


def _decode(wav: Path) -> np.ndarray:
    raw = subprocess.run(["sox", str(wav), "-t", "raw", "-e", "signed-integer", "-b", "16",
                          "-L", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<i2").astype(np.float64)


def test_listen_mic_records_real_speech_into_the_spool(tmp_path, speech):
    wav = speech["BAC009S0764W0121"]
    mic = make_mic(tmp_path, wav, pad_s=3.0)
    # lead-in silence: rewrite the raw file as 1 s of silence + speech + 3 s of silence
    pcm = np.fromfile(mic.raw, "<i2")
    pcm = np.concatenate([np.zeros(int(PAD_S * 16000), "<i2"), pcm])
    pcm.tofile(mic.raw)
    total_s = len(pcm) / 16000

    devs = _listen(mic, tmp_path, "--list-devices", "--json")
    assert devs.returncode == 0, devs.stderr
    assert mic.name in [d["name"] for d in json.loads(devs.stdout)]

    spool = tmp_path / "spool"
    res = _listen(mic, tmp_path, "--mic", "--device", mic.name, "--duration-s", f"{total_s:.4f}",
                  "--spool", str(spool), "--badge-id", "demo-mic", "--agent", "Li Wei", "--json")
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    assert rep["stopped"] == "done" and abs(rep["audio_s"] - total_s) < 0.02
    clips = rep["clips"]
    assert clips, rep
    speech_start = int(PAD_S * 16000)
    speech_end = speech_start + len(pcm) - speech_start - 3 * 16000
    folder = spool / "demo-mic" / rep["session"]
    covered = np.zeros(len(pcm), bool)
    prev = clipfmt.ZERO_HASH
    for c in clips:
        base = folder / c["clip_id"]
        with open(f"{base}.wav", "rb") as f:
            info = clipfmt.verify_wav(f, prev_sha256=prev, expect_sha256=c["sha256"])
        prev = info.sha256
        custody = json.loads(Path(f"{base}.custody.json").read_text())
        assert custody["sha256"] == c["sha256"] and custody["agent"] == "Li Wei"
        assert custody["transport"] == "mic"
        # the decoded clip is the speech that was played, sample-aligned (ADPCM SNR)
        got = _decode(Path(f"{base}.wav"))[: c["samples"]]
        ref = pcm[c["offset_samples"]: c["offset_samples"] + c["samples"]].astype(np.float64)
        snr = 10 * np.log10(np.sum(ref ** 2) / max(np.sum((ref - got) ** 2), 1.0))
        assert snr > 15, (c["clip_id"], snr)
        covered[c["offset_samples"]: c["offset_samples"] + c["samples"]] = True
    assert covered[speech_start:speech_end].mean() > 0.995  # every spoken word kept
    assert not covered[: speech_start // 4].any()  # leading silence dropped
    assert not list(spool.rglob("*.partial"))

    # a second run continues the same badge's sequence and hash chain
    res2 = _listen(mic, tmp_path, "--mic", "--device", mic.name, "--duration-s", "3",
                   "--spool", str(spool), "--badge-id", "demo-mic", "--json")
    assert res2.returncode == 0, res2.stderr
    rep2 = json.loads(res2.stdout)
    assert rep2["clips"][0]["seq"] == clips[-1]["seq"] + 1
    assert rep2["clips"][0]["prev_sha256"] == clips[-1]["sha256"]


def test_ctrl_c_during_listen_keeps_every_clip_whole(tmp_path, speech):
    import signal
    import time

    mic = make_mic(tmp_path, speech["BAC009S0764W0121"])
    spool = tmp_path / "spool"
    env = mic.env(os.environ)
    env.update(BADGEKIT_DATA=str(tmp_path / "data"), BADGEKIT_CONFIG=str(tmp_path / "cfg"))
    proc = subprocess.Popen([sys.executable, "-m", "badgekit", "companion", "listen", "--mic",
                             "--device", mic.name, "--duration-s", "3600", "--spool", str(spool),
                             "--badge-id", "ctrl-c", "--max-clip-s", "10", "--json"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(spool.glob("ctrl-c/*/*.custody.json")):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err, err
    rep = json.loads(out)
    assert rep["stopped"] == "interrupted" and rep["audio_s"] < 3600
    assert len(rep["clips"]) >= 1
    prev = clipfmt.ZERO_HASH
    for c in rep["clips"]:
        base = spool / "ctrl-c" / rep["session"] / c["clip_id"]
        with open(f"{base}.wav", "rb") as f:
            prev = clipfmt.verify_wav(f, prev_sha256=prev, expect_sha256=c["sha256"]).sha256
        assert Path(f"{base}.custody.json").exists()
    assert not list(spool.rglob("*.partial"))


def test_listen_without_a_microphone_is_one_clear_line(tmp_path, speech):
    mic = make_mic(tmp_path, speech["BAC009S0764W0121"])
    res = _listen(mic, tmp_path, "--mic", "--device", "no-such-mic", "--duration-s", "1",
                  "--spool", str(tmp_path / "spool"))
    assert res.returncode == 1
    assert "error:" in res.stderr and "no-such-mic" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout


@pytest.mark.parametrize("flag, value", [("--vad-sensitivity", "7"), ("--gain-db", "99")])
def test_listen_rejects_bad_config_values(tmp_path, speech, flag, value):
    mic = make_mic(tmp_path, speech["BAC009S0764W0121"])
    res = _listen(mic, tmp_path, "--mic", "--device", mic.name, flag, value)
    assert res.returncode == 1 and "must be" in res.stderr and "Traceback" not in res.stderr

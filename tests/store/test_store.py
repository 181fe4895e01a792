"""The clip store on littlefs2 under the real MicroPython unix port (tests/store/mp_scenarios.py)."""

from __future__ import annotations

import json
import math
import subprocess
from array import array
from pathlib import Path

import pytest

SCEN = Path(__file__).with_name("mp_scenarios.py")
FAULTS = Path(__file__).with_name("mp_faults.py")
FAULT_NAMES = {"full", "enospc", "readonly", "ioerror", "clock"}
ONE_S_MS = 1000


@pytest.fixture(scope="module")
def scenario(micropython):
    cache: dict[str, dict] = {}

    def run(name: str) -> dict:
        if name not in cache:
            script = FAULTS if name in FAULT_NAMES else SCEN
            proc = micropython(script, args=[name], heap="32M", timeout=120, check=False)
            out = proc.stdout.decode().strip().splitlines()
            assert proc.returncode == 0 and out, proc.stderr.decode()[-2000:]
            cache[name] = json.loads(out[-1])
        return cache[name]

    return run


def test_record_list_read_ack(scenario):
    r = scenario("basic")
    assert r["ids"] == ["bk07-00000000", "bk07-00000001", "bk07-00000002"]
    assert r["chained"], "WAVs served by read() must verify and chain from 64 zeros"
    assert r["ranged"] and r["odd"], "ranged reads must equal the whole WAV"
    assert r["samples0"] == 40 * 505 - 17
    # a wrong hash deletes nothing; the right one deletes exactly that clip, durably
    assert r["mismatch"] == "AckMismatchError" and r["after_bad_ack"] == 3
    assert r["acked"] is True and r["again"] is False
    assert r["left"] == ["bk07-00000001", "bk07-00000002"]
    assert r["files"] == ["bk07-00000001.bkc", "bk07-00000002.bkc"]
    assert r["closed"] == 2 and r["next_seq"] == 3
    assert abs(r["unsynced_seconds"] - (7 * 505 - 17 + 90 * 505 - 17) / 16000) < 1e-6
    assert r["not_found"] == "ClipNotFoundError"
    side = r["sidecar"]
    for key in ("clip_id", "badge", "session", "seq", "start_time", "start_epoch",
                "session_offset_samples", "offset_samples", "samples", "sample_rate", "sha256",
                "prev_sha256", "recovered", "dropped_ms"):
        assert key in side
    assert side["start_time"] == "2025-11-24T16:00:00.250Z"


def test_encrypted_at_rest(scenario):
    r = scenario("at_rest")
    assert r["leaks"] == 0, "no audio block may appear in clear on flash"
    assert r["hdr_leak"] is False
    # the wrong key: the clip is locked, reported, and kept
    assert r["locked"] == ["bk07-00000000"] and r["files"] == ["bk07-00000000.bkc"]
    assert any("unknown key" in w for w in r["warnings"])
    assert r["samples"] == 60 * 505


def test_enrollment_rewraps_device_key(scenario):
    r = scenario("enroll")
    assert r["src"] == "device" and r["src2"] == "enrolled"
    assert r["rewrapped"] == 2 and r["old_kept"] == 1 and r["final_old"] == 0
    assert r["ok"], "every clip reads under the enrolled key"
    assert len(r["locked_with_old"]) == 3, "the old device key opens nothing any more"


def test_power_cut_recovery(scenario):
    r = scenario("recover")
    assert r["recovered"] and r["count"] == 1
    assert 77 - r["blocks"] <= 32 and r["blocks"] <= 77  # at most 1 s of blocks lost
    assert r["blocks"] == 75  # synced every 15 blocks (~0.47 s)
    assert r["dropped_ms"] <= ONE_S_MS
    assert r["events"][0]["clip_id"] == "bk07-00000001"
    assert r["next_prev_ok"], "the chain continues from the recovered clip"
    assert r["torn_blocks"] == 33 and r["torn_recovered"] and r["no_rec_left"] == []


def test_quarantine_corrupt_header_and_block(scenario):
    r = scenario("quarantine")
    assert r["boot_events"] == ["quarantined"]
    assert "corrupt header" in r["reason"]
    assert r["scrub"] == ["bk07-00000002"]
    assert r["states"] == {"bk07-00000000": "closed", "bk07-00000001": "quarantined",
                           "bk07-00000002": "quarantined"}
    assert r["qfiles"] == ["bk07-00000001.bkc", "bk07-00000001.json",
                           "bk07-00000002.bkc", "bk07-00000002.json"]
    assert r["raw_len"] == 136 + 20 * 256 + 52 == r["q_size"][0], "a quarantined clip is still served"
    assert r["plain"], "as plaintext (decrypted clip stream), like everything leaving the badge"
    assert r["d_prev_is_c"]
    # quarantined files survive reboots and go only after an ack
    assert r["states2"]["bk07-00000001"] == "quarantined"
    assert r["acked"] and r["qleft"] == ["bk07-00000002.bkc", "bk07-00000002.json"]
    assert r["a_ok"] and r["open_recovered"]
    assert any("quarantined" in w for w in r["warnings"])


def test_corrupt_block_in_open_clip_is_quarantined(scenario):
    r = scenario("corrupt_open_block")
    assert r["quarantined"] == 1 and "quarantined" in r["events"]
    assert r["q"] == ["bk07-00000001.bkc", "bk07-00000001.json"]
    assert r["next_seq"] == 2, "a quarantined seq is never reused"


def test_index_lost_corrupt_and_inconsistent(scenario):
    r = scenario("index_repair")
    assert r["lost"]["events"] == ["index_rebuilt"]
    assert r["lost"]["ids"] == ["bk07-00000001", "bk07-00000002"]
    assert r["lost"]["next_seq"] == 3 and r["lost"]["tip_ok"]
    assert r["corrupt"]["events"] == ["index_rebuilt"] and r["corrupt"]["prev_ok"]
    assert r["after_all_acked_prev_ok"] and r["e_seq"] == 4
    assert r["missing"] == 1 and any("missing" in w for w in r["missing_warn"])
    assert ["quarantined", r["h"]] in r["replaced_events"]
    assert r["g_state"] == ["missing"]


def test_ack_interrupted_before_delete_is_finished_at_boot(scenario):
    r = scenario("ack_cut")
    assert r["events"] == [["ack_completed", "bk07-00000000"]]
    assert r["files"] == ["bk07-00000001.bkc"] and r["ids"] == ["bk07-00000001"]


def test_full_store_mid_clip(scenario):
    r = scenario("full")
    assert r["stopped"] == "store full: clip closed, recording stopped"
    assert r["n_listed"] == r["n_closed"] + 1, "the clip cut short by a full store is kept"
    assert r["all_ok"] and r["full"] and not r["recording"]
    assert r["refuse"] == "StoreFullError", "recording is refused, nothing is overwritten"
    assert any("full" in w for w in r["warnings"])
    assert r["after_ok"], "after an ack frees space, recording resumes on the chain"


def test_filesystem_out_of_space_mid_clip(scenario):
    r = scenario("enospc")
    assert r["outcome"] == "StoreFullError" and r["full"]
    assert r["events"] == ["recovered"] and r["recovered"] == 1 and r["ok"]
    assert r["pending"] == []


def test_read_only_filesystem(scenario):
    r = scenario("readonly")
    assert r["readonly"] and r["unchanged"], "a read-only store is not modified"
    assert r["ids"] == ["bk07-00000000"] and r["ok"]
    assert r["open"] == "StoreReadOnlyError" and r["ack"] == "StoreReadOnlyError"
    assert r["pending"] == ["bk07-00000001"]
    assert "filesystem is read-only" in r["warnings"]


def test_flash_write_error(scenario):
    r = scenario("ioerror")
    assert r["outcome"] == "StoreIOError" and "EIO" in r["fault"]
    assert r["again"] == "StoreIOError"
    assert r["recovered"] and r["written"] - r["recovered_blocks"] <= 32


def test_clock_jumps_backwards(scenario):
    r = scenario("clock")
    assert r["seqs"] == [0, 1, 2] and r["chain"]
    assert r["b_back"] and not r["a_back"] and r["c_unset"]
    assert any("clock went backwards" in w for w in r["warnings"])
    assert r["b_time"] == "2025-11-24T16:00:00.250Z"


def test_real_adpcm_audio_survives_a_power_cut(micropython, tmp_path):
    """The recorder's encoder -> store -> power cut -> export: sox plays the tone."""
    wav = tmp_path / "tone.wav"
    proc = micropython(FAULTS, args=["real_audio", str(wav)], heap="32M", timeout=120)
    r = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert r["recovered"] and r["same"] and 63 - r["blocks"] <= 32
    raw = subprocess.run(["sox", str(wav), "-t", "s16", "-"], capture_output=True, check=True).stdout
    pcm = array("h", raw)
    assert len(pcm) == r["blocks"] * 505
    t = [i / 16000 for i in range(len(pcm))]
    ref = [8000 * math.sin(2 * math.pi * 440 * x) for x in t]
    err = math.sqrt(sum((a - b) ** 2 for a, b in zip(pcm, ref, strict=True)) / len(pcm))
    assert err < 400, f"decoded tone differs from the input (rms error {err:.0f})"


def test_index_compaction(scenario):
    r = scenario("compaction")
    assert r["max_records"] <= 257, "the log is compacted once it passes 256 records"
    assert r["records_now"] < 257
    assert r["ids"] == [f"bk07-{n:08d}" for n in range(145, 150)]
    assert r["states"] == ["synced"]
    assert r["floor"] >= 80, "acked clips collapse into the floor at compaction"
    assert r["chain_ok"] and r["next_seq"] == 150 and r["files"] == 6

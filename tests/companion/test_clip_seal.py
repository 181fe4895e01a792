"""The companion checks each clip's seal (format version 2) before it acknowledges it.

Real parts: the badge firmware under the MicroPython unix port on a pty, the companion
CLI over pyserial. A clip whose trailer was altered on the badge after it was sealed
(its hash still matches: `samples` is outside the hash) is refused in one line and stays
on the badge; the others are acked and carry ``auth: authenticated``; a version 1 clip
is taken and marked unauthenticated.
"""

from __future__ import annotations

import json
from pathlib import Path

from companion.keystore import KeyStore
from tests.sync.helpers import SerialBadge, cli, make_clips

HERE = Path(__file__).parent
SECRET = bytes(range(32))


def _sides(spool: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in spool.glob("*/*/*.json")
            if not p.name.endswith(".custody.json") and p.parent.name != ".rejected"}


def _sealed_badge(tmp_path: Path, badge: str, n: int, *extra: str
                  ) -> tuple[SerialBadge, Path, Path, dict[str, str]]:
    """A badge enrolled at b1 with SECRET holding ``n`` sealed clips (mp_sealed_badge.py);
    the branch key store, the spool folder and the CLI environment."""
    make_clips(tmp_path / "clips", badge, n)
    ks = tmp_path / "keys.json"
    KeyStore(ks).put(badge, SECRET, "b1", "A")
    args = ("--secret", SECRET.hex(), "--branch", "b1", "--agent", "A", *extra)
    sim = SerialBadge(tmp_path / "clips", main=HERE / "mp_sealed_badge.py", extra_args=args)
    return sim, ks, tmp_path / "spool", {"BADGEKIT_CONFIG": str(tmp_path / "cfg")}


def test_bad_seal_is_never_acked_and_stays_on_the_badge(tmp_path, micropython):
    sim, ks, spool, env = _sealed_badge(tmp_path, "bk-5ea1", 3, "--tamper", "1")
    with sim as badge:
        for _ in range(2):  # a second sync refuses it again: never acked
            r = cli("companion", "sync", "--port", badge.port, "--spool", str(spool),
                    "--branch", "b1", "--keystore", str(ks), "--json", env=env)
            rep = json.loads(r.stdout)
            rep = rep[0] if isinstance(rep, list) else rep
            bad = [c for c in rep["clips"] if c["status"] == "rejected"]
            assert [c["clip_id"] for c in bad] == ["bk-5ea1-00000001"], r.stdout
            assert not bad[0]["acked"] and "bad_mac" in bad[0]["message"]
            assert "stays on the badge" in bad[0]["message"] and "\n" not in bad[0]["message"]
        r = cli("companion", "status", "--port", badge.port, "--keystore", str(ks), "--branch",
                "b1", "--json", env=env)
        assert r.returncode == 0, r.stderr
        left = [c["clip_id"] for c in json.loads(r.stdout)["clips_unsynced"]]
        assert left == ["bk-5ea1-00000001"]
    sides = _sides(spool)
    assert sorted(sides) == ["bk-5ea1-00000000", "bk-5ea1-00000002"]
    assert {s["auth"] for s in sides.values()} == {"authenticated"}
    assert {s["format_version"] for s in sides.values()} == {2}
    custody = [json.loads(p.read_text()) for p in spool.glob("*/*/*.custody.json")]
    assert len(custody) == 2
    assert {c["auth"] for c in custody} == {"authenticated"}
    # the rejected copy is kept for inspection (two refusals in one second share a name)
    assert list((spool / "bk-5ea1" / ".rejected").glob("bk-5ea1-00000001.*.reason.json"))


def test_version_1_clips_are_taken_and_marked_unauthenticated(tmp_path, micropython):
    make_clips(tmp_path / "clips", "bk-0001", 2)  # recorded before enrollment: version 1
    ks, spool = tmp_path / "keys.json", tmp_path / "spool"
    env = {"BADGEKIT_CONFIG": str(tmp_path / "cfg")}
    with SerialBadge(tmp_path / "clips") as badge:
        r = cli("companion", "enroll", "--port", badge.port, "--agent", "A", "--branch", "b1",
                "--keystore", str(ks), env=env)
        assert r.returncode == 0, r.stderr
        r = cli("companion", "sync", "--port", badge.port, "--spool", str(spool), "--branch",
                "b1", "--keystore", str(ks), env=env)
        assert r.returncode == 0, r.stderr
    sides = _sides(spool)
    assert len(sides) == 2
    assert {(s["auth"], s["format_version"]) for s in sides.values()} == {("unauthenticated", 1)}


def test_a_stripped_seal_after_sealed_clips_is_refused(tmp_path):
    """Removing the seal and recomputing the hash makes a version 1 clip; after a sealed
    clip of the same badge in the ledger, that is a downgrade, refused like a bad seal."""
    import hashlib
    import struct

    import pytest

    from companion.errors import VerifyError
    from companion.spool import Spool
    from firmware.clips import fmt as clipfmt
    from firmware.clips import mac as clipmac
    from firmware.clips.sink import FolderSink

    key = clipmac.clip_key_of(SECRET)
    sink = FolderSink(str(tmp_path / "c"), clip_key=key)
    sides = []
    for seq in range(2):
        sink.open_clip({"badge": "bk-d0", "session": "s", "seq": seq, "start_epoch": 1764000000,
                        "sample_rate": 16000})
        for i in range(4):
            sink.write_block(bytes([i, 0, 10, 0]) + bytes(252))
        sides.append(sink.close_clip())
    raw = bytearray((tmp_path / "c" / f"{sides[1]['clip_id']}.wav").read_bytes())
    h0, t0, s0 = 60, 204, 264  # header, trailer, seal chunk offsets (docs/clip-format.md)
    raw[h0 + 4] = 1  # version 1
    raw[t0 + 8] &= ~clipfmt.FLAG_SEALED & 0xFF
    v1 = raw[:s0 - 8] + raw[s0 + clipfmt.SEAL_SIZE:]
    struct.pack_into("<I", v1, 4, len(v1) - 8)
    sha = hashlib.sha256(bytes(v1[h0:h0 + 136] + v1[clipfmt.wav_prefix_size():])).digest()
    v1[t0 + 20:t0 + 52] = sha
    spool = Spool(tmp_path / "spool")

    def put(seq: int, data: bytes, sha256: str):
        inc = spool.incoming("bk-d0", f"bk-d0-{seq:08d}")
        inc.write(0, data)
        return spool.commit("bk-d0", inc, clip_id=f"bk-d0-{seq:08d}", seq=seq,
                            expect_sha256=sha256, custody={}, clip_keys=[key])

    wav0 = (tmp_path / "c" / f"{sides[0]['clip_id']}.wav").read_bytes()
    assert put(0, wav0, sides[0]["sha256"]).chain == "first"
    with pytest.raises(VerifyError, match="seal was removed"):
        put(1, bytes(v1), sha.hex())
    assert not spool.committed("bk-d0", 1, sha.hex())
    emptied = bytearray((tmp_path / "c" / f"{sides[1]['clip_id']}.wav").read_bytes())
    emptied[s0:s0 + clipfmt.SEAL_SIZE] = clipmac.unsealed()  # reads as "closed off the badge"
    with pytest.raises(VerifyError, match="seal was removed"):
        put(1, bytes(emptied), sides[1]["sha256"])
    assert put(1, (tmp_path / "c" / f"{sides[1]['clip_id']}.wav").read_bytes(),
               sides[1]["sha256"]).chain == "linked"


def test_clips_sealed_before_a_re_enrollment_still_verify(tmp_path, micropython):
    sim, ks, spool, env = _sealed_badge(tmp_path, "bk-5ea2", 2)
    with sim as badge:
        r = cli("companion", "enroll", "--port", badge.port, "--agent", "B", "--branch", "b1",
                "--keystore", str(ks), env=env)  # moved to agent B: a new secret, a new clip key
        assert r.returncode == 0, r.stderr
        key = KeyStore(ks).get("bk-5ea2")
        assert key is not None and key.secret != SECRET and len(key.old_clip_keys) == 1
        r = cli("companion", "sync", "--port", badge.port, "--spool", str(spool), "--branch",
                "b1", "--keystore", str(ks), env=env)
        assert r.returncode == 0, r.stdout + r.stderr
    sides = _sides(spool)
    assert len(sides) == 2 and {s["auth"] for s in sides.values()} == {"authenticated"}

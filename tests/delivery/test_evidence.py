"""Evidence that holds past the badge: topics, conflicts, signatures, revisions, file modes.

On real Mosquitto, with the gateway and receiver as real processes where it matters.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.delivery import BrokerSettings, Receiver, ReceiverSettings, TopicError, parse
from gateway.delivery.envelope import blob_messages, json_bytes
from gateway.delivery.signing import (
    MAX_REVISION_SKEW_S,
    DocumentRefused,
    GatewayKey,
    KeyRing,
    check_revision,
)
from gateway.service import Gateway, GatewaySettings
from tests.delivery.spoolmaker import make_session

REPO = Path(__file__).resolve().parents[2]
BADGEKIT = [sys.executable, "-m", "badgekit"]


@pytest.fixture
def broker(broker_factory):
    return broker_factory()


@pytest.mark.parametrize("topic", [
    "badgekit/v1/acme/sh01/../bj02/INJECTED", "badgekit/v1/../../../escaped/PWNED",
    "badgekit/v1/acme/sh01/B1/./manifest", "badgekit/v1/acme/sh01/B1/S1/audio/..",
    "badgekit/v1/acme/sh01/B1/S1/audio/a\\b", "badgekit/v1/acme/sh01/B1/S1/audio/a\x00b",
    "badgekit/v1/acme/sh01//S1/manifest", "badgekit/v1/acme/.hidden/B1/S1/manifest",
])
def test_topic_levels_that_could_name_a_path_are_refused(topic):
    with pytest.raises(TopicError):
        parse(topic)


def test_revisions_from_the_future_are_refused_beyond_the_stated_skew():
    now = 1_800_000_000.0
    assert check_revision({"revision": int(now * 1000) + MAX_REVISION_SKEW_S * 1000}, now)
    with pytest.raises(DocumentRefused, match="ahead"):
        check_revision({"revision": int(now * 1000) + MAX_REVISION_SKEW_S * 1000 + 1}, now)
    with pytest.raises(DocumentRefused, match="ahead"):
        check_revision({"revision": 9999999999999}, now)


@pytest.mark.slow  # about 25 s: two brokers, a dozen gateway runs, the firmware under MicroPython
def test_attack_bench_refuses_or_reports_every_attack(tmp_path, micropython):
    """bench/attacks.py against its own real brokers, receiver and gateway: every row holds."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "attacks.py"), "--work", str(tmp_path / "lab")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "19/19 attacks refused or reported" in proc.stdout
    for name in ("path traversal into another branch", "path traversal out of --out", "verified clip replaced",
                 "forged chain", "revision 9999999999999", "fact lowered", "second sequence number",
                 "forged gateway key", "replayed", "another badge's folder", "chain tip truncated",
                 "readable by others", "ahead of the genuine clip", "seal kept", "seal stripped", "forged receipts", "AUTH flood",
                 "HELLO before authentication"):
        assert name in proc.stdout, name
    assert "FAIL" not in proc.stdout


def _modes(root: Path) -> list[str]:
    loose = []
    for p in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(p.lstat().st_mode)
        want = 0o700 if p.is_dir() else 0o600
        if mode != want:
            loose.append(f"{p.relative_to(root)} {mode:o}")
    return loose


def test_files_holding_audio_or_keys_are_private(broker, tmp_path):
    """Spool (companion), gateway state and outbox, key, receiver output: 0600 files, 0700 folders,
    even under a permissive umask."""
    from companion.spool import Spool

    old = os.umask(0o022)
    try:
        clips = tmp_path / "badge"
        sides = make_session(clips, clips=2, blocks_per_clip=20, custody=False)
        spool = tmp_path / "spool"
        sp = Spool(spool)
        for s in sides:
            inc = sp.incoming("B0001", s["clip_id"])
            inc.write(0, (clips / "B0001/S0001" / f"{s['clip_id']}.wav").read_bytes())
            sp.commit("B0001", inc, clip_id=s["clip_id"], seq=s["seq"], expect_sha256=s["sha256"],
                      custody={"operator": "t"})
        (spool / "B0001/S0001/stray.txt").write_text("x")  # quarantined by the gateway
        os.chmod(spool / "B0001/S0001/stray.txt", 0o600)
        out = tmp_path / "out"
        rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=out, client_id="rx-m"))
        rx.start()
        gw = Gateway(GatewaySettings(spool_dir=spool, broker=BrokerSettings.from_url(broker.url),
                                     state_dir=tmp_path / "state", transcribe=False, flush_timeout_s=20))
        report = gw.run_once()
        gw.close()
        summary = rx.run(idle_exit_s=0.5)
        rx.close()
    finally:
        os.umask(old)
    assert report.delivered and summary.clips_verified == 2
    assert (tmp_path / "state/quarantine").is_dir() and (tmp_path / "state/gateway.key").is_file()
    for root in (spool, tmp_path / "state", out):
        assert _modes(root) == [], root


def test_cli_gateway_signs_and_the_receiver_keeps_only_what_verifies(broker, make_publisher, tmp_path):
    """`gateway key new/enrol`, `gateway run` and `gateway receive --keys` as processes."""
    key, keys = tmp_path / "gw.key", tmp_path / "keys"
    new = subprocess.run(BADGEKIT + ["gateway", "key", "new", "--key", str(key), "--gateway-id", "gw-sh01"],
                         capture_output=True, text=True, timeout=60)
    assert new.returncode == 0, new.stderr
    assert "PRIVATE" not in new.stdout + new.stderr and stat.S_IMODE(key.stat().st_mode) == 0o600
    enrol = subprocess.run(BADGEKIT + ["gateway", "key", "enrol", f"{key}.pub", "--keys", str(keys), "--tenant",
                                       "acme", "--branch", "sh01", "--gateway-id", "gw-sh01"],
                           capture_output=True, text=True, timeout=60)
    assert enrol.returncode == 0, enrol.stderr
    again = subprocess.run(BADGEKIT + ["gateway", "key", "new", "--key", str(key)], capture_output=True, text=True,
                           timeout=60)
    assert again.returncode == 2 and again.stderr.startswith("error:") and "overwrite" in again.stderr

    spool, out = tmp_path / "spool", tmp_path / "out"
    sides = make_session(spool, clips=2, blocks_per_clip=20)
    receiver = subprocess.Popen(BADGEKIT + ["gateway", "receive", "--mqtt", broker.url, "--out", str(out),
                                            "--keys", str(keys), "--idle-exit-s", "4", "--json", "-q"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # subscribed before anything is published
        run = subprocess.run(BADGEKIT + ["gateway", "run", "--spool", str(spool), "--mqtt", broker.url, "--once",
                                         "--no-transcribe", "--settle-s", "0", "--tenant", "acme", "--branch", "sh01",
                                         "--gateway-id", "gw-sh01", "--signing-key", str(key), "--json", "-q"],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        # an intruder with the branch's broker rights but not its key
        pub = make_publisher(BrokerSettings.from_url(broker.url), gateway_id="intruder")
        base = "badgekit/v1/acme/sh01/B0001/S0001"
        forged = {"kind": "manifest", "revision": int(time.time() * 1000) + 1, "clips": []}
        pub.outbox.put(blob_messages(f"{base}/manifest", json_bytes(forged), "manifest"))
        evil = GatewayKey.generate(tmp_path / "evil.key", "gw-sh01")
        pub.outbox.put(blob_messages(f"{base}/manifest", json_bytes(evil.sign(f"{base}/manifest", forged)),
                                     "manifest"))
        pub.wake()
        pub.flush(10, confirmed=False)
        out_text, err = receiver.communicate(timeout=60)
    finally:
        receiver.kill()
    summary = json.loads(out_text)
    assert summary["clips_verified"] == 2 and summary["documents_unchecked"] == 0
    reasons = [r["reason"] for r in summary["refused"]]
    assert len(reasons) == 2 and "unsigned document" in reasons[0] and "does not verify" in reasons[1]
    manifest = json.loads((out / "acme/sh01/B0001/S0001/manifest.json").read_text())
    assert manifest["signature"]["gateway"] == "gw-sh01"
    assert [c["clip_id"] for c in manifest["clips"]] == [s["clip_id"] for s in sides]  # the genuine one stays
    (integrity,) = summary["integrity"]
    assert integrity["status"] == "unauthenticated" and integrity["verified"] == 2  # format 1 clips: no MAC
    assert manifest["integrity"]["status"] == "unauthenticated"
    assert KeyRing(keys).verify("acme", "sh01", f"{base}/manifest", manifest).gateway == "gw-sh01"


def test_badge_seals_are_checked_by_the_gateway_and_reported_by_the_receiver(broker, make_publisher, tmp_path):
    """Clip format 2: the gateway checks each seal with the branch's clip keys and says so in
    its signed clip record; a receiver without the clip keys reports what the gateway found,
    one with them checks itself and quarantines a bad MAC; format 1 clips are unauthenticated."""
    import hashlib
    import io

    from badgecore.badgekeys import write_badge_keys
    from firmware.clips import fmt as clipfmt
    from firmware.clips import mac as clipmac
    from gateway.delivery import PublisherSettings

    key = bytes(range(32))
    badge_keys = tmp_path / "badge-keys.json"
    write_badge_keys(badge_keys, {"B0001": [key], "B0002": [key], "B0003": [key]})
    spool = tmp_path / "spool"
    sealed = make_session(spool, clips=2, blocks_per_clip=10, clip_key=key)
    old = make_session(spool, badge="B0002", clips=1, blocks_per_clip=10)  # an old badge: format 1
    keys = tmp_path / "keys"
    gkey = GatewayKey.generate(tmp_path / "gw.key", "gw1")
    KeyRing(keys).enrol("acme", "sh01", "gw1", gkey.public_pem())
    rxs = []
    for name, bk in (("plain", None), ("checks", badge_keys)):
        rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=tmp_path / name,
                                       keys_dir=keys, badge_keys=bk, client_id=f"rx-{name}", share_group=None))
        rx.start()
        rxs.append(rx)
    gw = Gateway(GatewaySettings(spool_dir=spool, broker=BrokerSettings.from_url(broker.url), transcribe=False,
                                 badge_keys=badge_keys, signing_key=tmp_path / "gw.key", flush_timeout_s=20,
                                 publisher=PublisherSettings(tenant="acme", branch="sh01", gateway_id="gw1")))
    assert gw.run_once().delivered
    gw.close()
    # a sealed clip altered after the badge closed it, its hash recomputed, the seal kept
    (forged,) = make_session(tmp_path / "forge", badge="B0003", clips=1, blocks_per_clip=10, clip_key=key)
    wav = bytearray((tmp_path / "forge/B0003/S0001" / f"{forged['clip_id']}.wav").read_bytes())
    wav[-3] ^= 0x55
    info = clipfmt.read_wav(io.BytesIO(bytes(wav)))
    t = wav.index(b"bktr") + 8
    wav[t + 20:t + 52] = hashlib.sha256(bytes(info.header.raw) + bytes(wav[info.data_offset:])).digest()
    assert clipmac.verify_wav(io.BytesIO(bytes(wav)), [key]).status == clipmac.BAD_MAC
    pub = make_publisher(BrokerSettings.from_url(broker.url), gateway_id="intruder")
    pub.outbox.put(blob_messages(f"badgekit/v1/acme/sh01/B0003/S0001/audio/{forged['clip_id']}", bytes(wav), "audio"))
    pub.wake()
    pub.flush(10, confirmed=False)
    plain, checks = (rx.run(idle_exit_s=0.6) for rx in rxs)
    for rx in rxs:
        rx.close()
    for summary in (plain, checks):
        assert summary.clips_verified == 3
        assert {c: summary.auth[c] for c in (s["clip_id"] for s in sealed + old)} == {
            sealed[0]["clip_id"]: "authenticated", sealed[1]["clip_id"]: "authenticated",
            old[0]["clip_id"]: "unauthenticated"}
        status = {(i["badge"], i["session"]): i["status"] for i in summary.integrity}
        assert status[("B0001", "S0001")] == "verified" and status[("B0002", "S0001")] == "unauthenticated"
    # without the clip keys the receiver cannot tell; the clip stays unverified (no signed record)
    assert checks.auth["B0003-00000001"] == "bad_mac" and plain.auth["B0003-00000001"] == "no_key"
    assert any("bad_mac" in reason for _clip, reason in checks.failed)
    assert any(i["badge"] == "B0003" and i["status"] == "failed" for i in checks.integrity)
    manifest = json.loads((tmp_path / "plain/acme/sh01/B0001/S0001/manifest.json").read_text())
    assert manifest["integrity"]["status"] == "verified" and manifest["integrity"]["unauthenticated"] == []


def test_a_clip_id_sent_again_with_other_audio_is_quarantined_never_overwritten(broker, make_publisher, tmp_path):
    """Receiver without a key ring (documents unchecked): the first audio of a clip id stays;
    a second one with another hash is kept aside and reported; a re-sent record naming
    another hash too; the audio is checked against record and manifest at every settle."""
    spool, out = tmp_path / "spool", tmp_path / "out"
    (side,) = make_session(spool, clips=1, blocks_per_clip=10)
    (other,) = make_session(tmp_path / "other", clips=1, blocks_per_clip=12)  # same clip id, other audio
    cid = side["clip_id"]
    wav = (spool / "B0001/S0001" / f"{cid}.wav").read_bytes()
    forged = (tmp_path / "other/B0001/S0001" / f"{cid}.wav").read_bytes()
    rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=out, client_id="rx-c"))
    rx.start()
    pub = make_publisher(BrokerSettings.from_url(broker.url))
    base = "B0001/S0001"
    pub.enqueue(f"{base}/clip/{cid}", {"kind": "clip", "clip_id": cid, "sidecar": side})
    pub.enqueue(f"{base}/audio/{cid}", wav, kind="audio")
    pub.enqueue(f"{base}/audio/{cid}", forged, kind="audio")
    pub.enqueue(f"{base}/clip/{cid}", {"kind": "clip", "clip_id": cid, "sidecar": other})
    rev = int(time.time() * 1000)
    pub.enqueue(f"{base}/manifest", {"kind": "manifest", "revision": rev, "clips": [{"clip_id": cid, "sha256": side["sha256"]}]})
    assert pub.flush(10)
    first = rx.run(idle_exit_s=0.6)
    assert first.clips_verified == 1 and first.documents_unchecked == 3
    assert (out / "acme/sh01/B0001/S0001/clips" / f"{cid}.wav").read_bytes() == wav
    reasons = sorted(c["reason"][:40] for c in first.conflicts)
    assert len(first.conflicts) == 2 and any("arrived again" in r for r in reasons), reasons
    kept = sorted(p.name for p in (out / "quarantine").glob(f"{cid}.*"))
    assert len(kept) == 4  # the other WAV and the other record, each with its reason
    # a later manifest naming another hash: the next settle says so, the clip is no longer verified
    rx = Receiver(ReceiverSettings(broker=BrokerSettings.from_url(broker.url), out_dir=out, client_id="rx-c"))
    rx.start()
    pub.enqueue(f"{base}/manifest", {"kind": "manifest", "revision": rev + 1,
                                     "clips": [{"clip_id": cid, "sha256": other["sha256"]}]})
    assert pub.flush(10)
    later = rx.run(idle_exit_s=0.6)
    rx.close()
    assert later.clips_verified == 0
    assert later.failed and "manifest" in later.failed[0][1]
    assert (out / "acme/sh01/B0001/S0001/clips" / f"{cid}.wav").read_bytes() == wav  # still never overwritten

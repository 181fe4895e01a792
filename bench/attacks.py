"""Replay every attack on the evidence path against the real broker, receiver and gateway.

    python bench/attacks.py [--work DIR] [--model DIR] [--only NAME]

One Mosquitto with passwords and a per-branch ACL (gateway users may write only their
branch's subtree), one without accounts, the companion's spool (`companion.spool`), the
gateway (`gateway.service.Gateway`, signing with its enrolled Ed25519 key) and a
receiver holding the enrolled key (`gateway.delivery.Receiver`). Each attack is played
the way an intruder with the stated access would, then the outcome is read from the
receiver's summary, its files, the gateway's report and the transcript. Prints one row
per attack (attack, expected, result, ok) and exits 1 if any row was not refused or
reported. The badge's rows (an AUTH flood, HELLO before authentication) run the real
firmware under the MicroPython unix port (bench/attacks_badge.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from attacks_lab import BLOCK, SPB, Lab, Row, blocks, msgs, to_spool, write_clips  # noqa: E402

from gateway.delivery import Outbox, Publisher, PublisherSettings, Receiver, ReceiverSettings  # noqa: E402
from gateway.delivery.envelope import blob_messages  # noqa: E402
from gateway.delivery.mqtt import Connection, user_properties  # noqa: E402
from gateway.delivery.receipts import ReceiptMaker  # noqa: E402
from gateway.delivery.signing import GatewayKey, KeyRing  # noqa: E402
from gateway.service import Gateway, GatewaySettings  # noqa: E402

__all__ = ["ATTACKS", "Lab", "Row", "main"]

T = "badgekit/v1/acme/sh01"


def _refused(lab: Lab, needle: str) -> list[str]:
    return [r["reason"] for r in lab.summary().refused if needle in r["topic"]]


def _escapes(root: Path, *names: str) -> list[str]:
    """Files or folders named `names` anywhere under `root` but the brokers' own stores."""
    return [str(p) for p in root.rglob("*") if p.name in names and "broker" not in p.parts[len(root.parts)]]


def a_traversal_into_branch(lab: Lab) -> Row:
    lab.publish(msgs(f"{T}/../bj02/INJECTED", b"evil bytes", "INJECTED"))
    found = _escapes(lab.work, "INJECTED") + ([str(lab.out / "acme/bj02")] if (lab.out / "acme/bj02").exists() else [])
    why = _refused(lab, "/../bj02/")
    ok = not found and bool(why)
    return Row("path traversal into another branch (sh01/../bj02, ACL'd gateway)",
               "refused and reported, nothing in bj02", f"written: {found or 'nothing'}; refused: {[w[:48] for w in why[:1]]}", ok)


def a_traversal_out_of_out(lab: Lab) -> Row:
    out2 = lab.work / "open-out" / "out"
    rx = Receiver(ReceiverSettings(broker=lab.bs("", lab.open_broker), out_dir=out2, client_id="attacks-rx2"))
    rx.start()
    try:
        lab.publish(msgs("badgekit/v1/../../../escaped/PWNED", b"evil bytes", "PWNED"), broker=lab.open_broker,
                    wait=False)
        lab.publish(msgs("badgekit/v1/acme/sh01/B1/S1/..", b"evil bytes", "dotdot"), broker=lab.open_broker,
                    wait=False)
        lab.wait(rx)
        refused = rx.summary().refused
    finally:
        rx.close()
    found = _escapes(lab.work, "PWNED", "escaped")
    ok = not found and len(refused) == 2
    return Row("path traversal out of --out (../../../escaped/PWNED, broker without accounts)",
               "refused and reported, nothing outside --out", f"written: {found or 'nothing'}; refused {len(refused)}/2",
               ok)


def _forge_like(lab: Lab, side: dict[str, Any], salt: int, folder: str) -> tuple[dict[str, Any], bytes]:
    """Another clip under `side`'s id and chain link, hashed as the badge would (unkeyed)."""
    (forged,) = write_clips(lab.work / folder, side["badge"], side["session"], [blocks(40, salt)], side["seq"],
                            side["prev_sha256"], sealed=False)  # the intruder has no clip key
    return forged, (lab.work / folder / f"{forged['clip_id']}.wav").read_bytes()


def a_clip_replacement(lab: Lab) -> Row:
    side = lab.sides[1]
    cid = side["clip_id"]
    forged, wav = _forge_like(lab, side, 99, "forged-replace")
    base = f"{T}/B0001/S0001"
    lab.publish(msgs(f"{base}/audio/{cid}", wav, "audio")
                + msgs(f"{base}/clip/{cid}", {"kind": "clip", "clip_id": cid, "sidecar": forged}, "clip"))
    stored = (lab.out / "acme/sh01/B0001/S0001/clips" / f"{cid}.wav").read_bytes()
    s = lab.summary()
    unchanged = hashlib.sha256(stored).hexdigest() == hashlib.sha256(lab.genuine[
        lab.out / "acme/sh01/B0001/S0001/clips" / f"{cid}.wav"]).hexdigest()
    conflict = [c for c in s.conflicts if c["clip_id"] == cid]
    still = cid in {c["clip_id"] for c in lab.rx.store.clips() if c["verified"]}
    ok = unchanged and bool(conflict) and still and bool(_refused(lab, f"clip/{cid}"))
    return Row("verified clip replaced (same id, other audio, recomputed hash)",
               "stored WAV unchanged, conflict quarantined and reported",
               f"unchanged={unchanged}, still verified={still}, conflicts={len(conflict)}, record refused="
               f"{bool(_refused(lab, f'clip/{cid}'))}", ok)


def a_forged_chain(lab: Lab) -> Row:
    sides = write_clips(lab.work / "forged-chain", "B0001", "S0666", [blocks(30, s) for s in (41, 42, 43)], 4,
                        lab.sides[-1]["sha256"], sealed=False)
    batch: list[Any] = []
    base = f"{T}/B0001/S0666"
    for s in sides:
        wav = (lab.work / "forged-chain" / f"{s['clip_id']}.wav").read_bytes()
        batch += msgs(f"{base}/audio/{s['clip_id']}", wav, "audio")
        batch += msgs(f"{base}/clip/{s['clip_id']}", {"kind": "clip", "clip_id": s["clip_id"], "sidecar": s}, "clip")
    manifest = {"kind": "manifest", "tenant": "acme", "branch": "sh01", "badge": "B0001", "session": "S0666",
                "revision": int(time.time() * 1000), "clips": [{"clip_id": s["clip_id"], "sha256": s["sha256"]}
                                                                for s in sides], "gaps": []}
    batch += msgs(f"{base}/manifest", manifest, "manifest")
    lab.publish(batch)
    s = lab.summary()
    verified = [c for c in lab.rx.store.clips() if c["session"] == "S0666" and c["verified"]]
    status = next((i["status"] for i in s.integrity if i["session"] == "S0666"), "absent")
    refused = len(_refused(lab, "/S0666/"))
    ok = not verified and refused == 4 and status != "verified" and not (lab.out / "acme/sh01/B0001/S0666").exists()
    return Row("forged chain of clips with a forged manifest (no gateway key)",
               "records and manifest refused, no clip verified or filed in a session",
               f"refused {refused}/4 documents, verified {len(verified)}, session status {status}", ok)


def a_future_revision(lab: Lab) -> Row:
    base = f"{T}/B0001/S0001/transcript"
    doc = {"kind": "transcript", "tenant": "acme", "branch": "sh01", "badge": "B0001", "session": "S0001",
           "revision": 9999999999999, "transcript": {"text": "forged"}}
    lab.publish(msgs(base, doc, "transcript"))  # unsigned
    key = GatewayKey.load(lab.key_path, "gw-sh01")  # a gateway whose clock is far ahead
    lab.publish(msgs(base, {**doc, "transcript": {"text": "clock ahead"}}, "transcript", key))
    genuine = {**doc, "revision": int(time.time() * 1000), "transcript": {"text": "genuine"}}
    lab.publish(msgs(base, genuine, "transcript", key))
    kept = json.loads((lab.out / "acme/sh01/B0001/S0001/transcript.json").read_text())
    why = _refused(lab, "S0001/transcript")
    ok = kept["transcript"]["text"] == "genuine" and len(why) == 2
    return Row("transcript with revision 9999999999999 (unsigned; and signed with a clock far ahead)",
               "both refused; the later genuine revision is kept",
               f"kept: {kept['transcript']['text']!r}; refused {len(why)}: {[w[:40] for w in why]}", ok)


def _lower(path: Path, samples: int) -> None:
    """Lower the trailer's sample count and the fact chunk in a clip WAV (outside the hash)."""
    raw = bytearray(path.read_bytes())
    i = raw.index(b"bktr") + 8
    struct.pack_into("<I", raw, i + 4, samples)
    j = raw.index(b"fact") + 8
    struct.pack_into("<I", raw, j, samples)
    path.write_bytes(bytes(raw))


def a_lowered_samples(lab: Lab) -> Row:
    from gateway.transcribe.decode import decode_wav
    from gateway.transcribe.verify import check_session_clips

    folder, spool = lab.work / "lowered-badge", lab.work / "lowered-spool"
    sides = write_clips(folder, "B0003", "S0001", [blocks(100, 7)], 1, None)
    to_spool(spool, folder, sides)
    wav = spool / "B0003/S0001" / f"{sides[0]['clip_id']}.wav"
    _lower(wav, 505)  # 1 % of the clip's 50,500 samples
    check = check_session_clips([wav])
    clip = check.clips[0]
    seconds = len(decode_wav(wav, samples=clip.samples).samples) / 16000
    report = lab.gateway(spool, lab.work / "lowered-state")
    lab.wait()
    manifest = json.loads((lab.out / "acme/sh01/B0003/S0001/manifest.json").read_text())
    run_problems = [e for e in report.errors if "trailer says" in e]
    ok = (seconds >= 100 * SPB / 16000 - 0.001 and any("trailer says" in p for p in check.problems)
          and any("fact chunk" in p for p in check.problems) and bool(run_problems)
          and manifest["audio_s"] >= 3.15 and bool(manifest["clips"][0]["problems"]))
    return Row("trailer samples and fact lowered to hide 99 % of a clip",
               "reported in transcribe and run; all audio used",
               f"transcribe: {seconds:.2f} s decoded, {len(check.problems)} problems; run: {len(run_problems)} "
               f"errors, manifest audio {manifest['audio_s']} s", ok)


def a_file_modes(lab: Lab) -> Row:
    loose = []
    for root in (lab.spool, lab.work / "state", lab.out, lab.keys):
        for p in [root, *root.rglob("*")]:
            mode = p.stat().st_mode & 0o777
            if mode & 0o077:
                loose.append(f"{p.relative_to(lab.work)} {mode:o}")
    key_mode = lab.key_path.stat().st_mode & 0o777
    ok = not loose and key_mode == 0o600
    return Row("files holding audio or keys readable by others",
               "every file 0600, every folder 0700", f"{len(loose)} loose: {loose[:3]}; key {key_mode:o}", ok)


def a_duplicate_clip(lab: Lab, model: Path | None) -> Row:
    from gateway.transcribe import EngineSettings, Transcriber, TranscribeSettings

    speech = Path(os.environ.get("BADGEKIT_SHARED", REPO.parent / "shared")) / "data/speech/IT0011W0001.wav"
    from array import array

    from firmware import adpcm

    raw = speech.read_bytes()
    pcm = array("h", raw[raw.index(b"data") + 8:])
    data = adpcm.encode(pcm)
    blks = [data[i:i + BLOCK] for i in range(0, len(data), BLOCK)]
    folder = lab.work / "dup-session"
    sides = write_clips(folder, "B0004", "S0001", [blks, blocks(20, 5)], 1, None)
    # the first clip's audio again, under sequence number 3, its hash recomputed
    write_clips(folder, "B0004", "S0001", [blks], 3, sides[-1]["sha256"], sealed=False)
    tr = Transcriber(TranscribeSettings(engine=EngineSettings(model_dir=str(model) if model else None)))
    result = tr.transcribe(folder).to_json()
    status = {c["clip_id"]: c["status"] for c in result["clips"]}
    from_dup = [s for s in result["segments"] if s.get("clip_id") == "B0004-00000003"]
    from_first = [s for s in result["segments"] if s.get("clip_id") == "B0004-00000001"]
    ok = status.get("B0004-00000003") == "duplicate" and not from_dup and bool(from_first)
    return Row("a clip copied in under a second sequence number",
               "flagged, its speech transcribed once",
               f"status {status.get('B0004-00000003')}; segments from the copy {len(from_dup)}, from the first "
               f"{len(from_first)}", ok)


def a_forged_key(lab: Lab) -> Row:
    evil = GatewayKey.generate(lab.work / "evil.key", "gw-sh01")
    base = f"{T}/B0001/S0001/findings"
    doc = {"kind": "findings", "tenant": "acme", "branch": "sh01", "badge": "B0001", "session": "S0001",
           "revision": int(time.time() * 1000), "ok": True}
    lab.publish(msgs(base, doc, "findings", evil))
    other = GatewayKey.generate(lab.work / "evil2.key", "gw-rogue")
    lab.publish(msgs(base, {**doc, "revision": doc["revision"] + 1}, "findings", other))
    why = _refused(lab, "S0001/findings")
    ok = len(why) == 2 and not (lab.out / "acme/sh01/B0001/S0001/findings.json").exists()
    return Row("documents signed with a forged gateway key (same id; unknown id)",
               "refused: signature does not verify / no key enrolled", f"refused {len(why)}/2: "
               f"{[w[:45] for w in why]}", ok)


def a_replayed_clip(lab: Lab) -> Row:
    side = lab.sides[0]
    cid = side["clip_id"]
    clips = lab.out / "acme/sh01/B0001/S0001/clips"
    wav, record = (clips / f"{cid}.wav").read_bytes(), (clips / f"{cid}.json").read_bytes()
    base = f"{T}/B0001/S0002"
    lab.publish(blob_messages(f"{base}/audio/{cid}", wav, "audio", props={"gateway": "gw-sh01"})
                + blob_messages(f"{base}/clip/{cid}", record, "clip", props={"gateway": "gw-sh01"}))
    s = lab.summary()
    conflict = [c for c in s.conflicts if c["clip_id"] == cid and "/S0002/" in c["topic"]]
    refused = _refused(lab, f"S0002/clip/{cid}")
    ok = bool(conflict) and bool(refused) and not (lab.out / "acme/sh01/B0001/S0002").exists()
    return Row("an old genuine clip replayed into a new session",
               "record refused (signature binds the topic), audio reported as a conflict",
               f"conflicts {len(conflict)}, record refused {bool(refused)}, S0002 filed: "
               f"{(lab.out / 'acme/sh01/B0001/S0002').exists()}", ok)


def a_moved_clip(lab: Lab) -> Row:
    folder, spool = lab.work / "moved-badge", lab.work / "moved-spool"
    sides = write_clips(folder, "B0005", "S0001", [blocks(20, 8)], 1, None)
    to_spool(spool, folder, sides)
    cid = sides[0]["clip_id"]
    src, dst = spool / "B0005/S0001", spool / "B0006/S0001"
    dst.mkdir(parents=True)
    for suffix in (".wav", ".json", ".custody.json"):
        p = src / f"{cid}{suffix}"
        doc = p.read_bytes()
        if suffix != ".wav":  # the intruder edits the badge id in the JSON files too
            doc = doc.replace(b"B0005", b"B0006")
        (dst / f"{cid}{suffix}").write_bytes(doc)
        p.unlink()
    report = lab.gateway(spool, lab.work / "moved-state")
    reasons = [p.read_text() for p in (lab.work / "moved-state/quarantine").rglob("*.reason.txt")]
    # and on the wire: a genuine clip published under another badge's topic
    wav = (lab.out / "acme/sh01/B0001/S0001/clips" / f"{lab.sides[2]['clip_id']}.wav").read_bytes()
    lab.publish(blob_messages(f"{T}/B0007/S0001/audio/{lab.sides[2]['clip_id']}", wav, "audio"))
    conflict = [c for c in lab.summary().conflicts if "/B0007/" in c["topic"]]
    ok = report.clips_quarantined == 1 and any("recorded by B0005" in r for r in reasons) and bool(conflict) \
        and not list((lab.out / "acme/sh01").glob("B000[67]/*/clips/*.wav"))
    return Row("a clip moved to another badge's folder (spool) and topic (wire)",
               "quarantined by the gateway, refused by the receiver",
               f"gateway quarantined {report.clips_quarantined}; receiver conflicts {len(conflict)}", ok)


def a_truncated_tip(lab: Lab) -> Row:
    folder, spool = lab.work / "tip-badge", lab.work / "tip-spool"
    sides = write_clips(folder, "B0008", "S0001", [blocks(20, s) for s in (11, 12, 13)], 1, None)
    to_spool(spool, folder, sides)
    gw = Gateway(GatewaySettings(spool_dir=spool, broker=lab.bs("gw-sh01"), state_dir=lab.work / "tip-state",
                                 transcribe=False, signing_key=lab.key_path, badge_keys=lab.badge_keys,
                                 publisher=PublisherSettings(tenant="acme", branch="sh01", gateway_id="gw-sh01")))
    gw.poll(settle_all=True)  # the gateway's signed messages, not sent: an intruder relays them
    queued = gw.outbox.pending(limit=10_000)
    gw.outbox.close()
    gw._lock.close()
    tip = sides[-1]["clip_id"]
    lab.publish([m for m in queued if not m.topic.endswith(f"/audio/{tip}")])
    s = lab.summary()
    status = next((i for i in s.integrity if i["badge"] == "B0008"), {})
    ok = tip in s.missing and status.get("status") == "gaps"
    return Row("chain tip truncated (the last clip withheld in transit)",
               "the signed manifest names it: missing, session status gaps",
               f"missing {[m for m in s.missing if m.startswith('B0008')]}, status {status.get('status')}", ok)


def a_audio_ahead(lab: Lab) -> Row:
    """Forged audio published for a clip id before the gateway delivers the genuine clip."""
    folder, spool = lab.work / "ahead-badge", lab.work / "ahead-spool"
    sides = write_clips(folder, "B0009", "S0001", [blocks(20, 21)], 1, None)
    cid = sides[0]["clip_id"]
    _, wav = _forge_like(lab, sides[0], 77, "ahead-forged")
    lab.publish(msgs(f"{T}/B0009/S0001/audio/{cid}", wav, "audio"))
    to_spool(spool, folder, sides)
    lab.gateway(spool, lab.work / "ahead-state")
    lab.wait()
    stored = lab.out / "acme/sh01/B0009/S0001/clips" / f"{cid}.wav"
    genuine = stored.exists() and stored.read_bytes() == (folder / f"{cid}.wav").read_bytes()
    verified = cid in {c["clip_id"] for c in lab.rx.store.clips() if c["verified"]}
    conflict = [c for c in lab.summary().conflicts if c["clip_id"] == cid]
    ok = genuine and verified and bool(conflict)
    return Row("forged audio published ahead of the genuine clip", "held back, displaced by the signed clip, reported",
               f"genuine stored {genuine}, verified {verified}, conflicts {len(conflict)}", ok)


def _reforge(wav: Path) -> str:
    """Alter a sealed clip's audio and recompute its hash into the trailer, seal kept (no key)."""
    import hashlib as _h

    from firmware.clips import fmt as clipfmt

    raw = bytearray(wav.read_bytes())
    raw[-3] ^= 0x55  # an ADPCM byte of the last block
    with open(wav, "rb") as f:
        info = clipfmt.read_wav(f)
    data = bytes(raw[info.data_offset:info.data_offset + info.trailer.data_len])
    sha = _h.sha256(bytes(info.header.raw) + data).digest()
    t = raw.index(b"bktr") + 8
    raw[t + 20:t + 52] = sha
    wav.write_bytes(bytes(raw))
    return sha.hex()


def _swap_json(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


def a_bad_mac(lab: Lab) -> Row:
    """A sealed clip altered in the spool, hash recomputed, the badge's seal left as it was."""
    folder, spool = lab.work / "badmac-badge", lab.work / "badmac-spool"
    sides = write_clips(folder, "B0010", "S0001", [blocks(20, s) for s in (31, 32, 33)], 1, None)
    to_spool(spool, folder, sides)
    cid = sides[1]["clip_id"]
    sess = spool / "B0010/S0001"
    new = _reforge(sess / f"{cid}.wav")
    for suffix in (".json", ".custody.json"):  # the intruder fixes the hashes in the JSON files too
        _swap_json(sess / f"{cid}{suffix}", sides[1]["sha256"], new)
    report = lab.gateway(spool, lab.work / "badmac-state")
    lab.wait()
    reasons = [p.read_text() for p in (lab.work / "badmac-state/quarantine").rglob("*.wav.reason.txt")]
    status = next((i for i in lab.summary().integrity if i["badge"] == "B0010"), {})
    ok = (report.clips_quarantined == 1 and any(r.startswith("bad_mac") for r in reasons)
          and cid in status.get("bad_mac", []) and status.get("status") == "failed")
    return Row("sealed clip altered, hash recomputed, seal kept (no clip key)",
               "bad MAC: quarantined, reported per clip and in the session status",
               f"quarantined {report.clips_quarantined}: {[r[:40] for r in reasons]}; session {status.get('status')}, "
               f"bad_mac {status.get('bad_mac')}", ok)


def a_stripped_seal(lab: Lab) -> Row:
    """A sealed clip rewritten as format 1 (no seal) after sealed clips of the same badge."""
    folder, spool = lab.work / "strip-badge", lab.work / "strip-spool"
    sides = write_clips(folder, "B0011", "S0001", [blocks(20, s) for s in (51, 52, 53)], 1, None)
    to_spool(spool, folder, sides)
    side = sides[2]
    (forged,) = write_clips(lab.work / "strip-forged", "B0011", "S0001", [blocks(20, 53)], 3, side["prev_sha256"],
                            sealed=False)
    sess = spool / "B0011/S0001"
    (sess / f"{side['clip_id']}.wav").write_bytes((lab.work / "strip-forged" / f"{side['clip_id']}.wav").read_bytes())
    for suffix in (".json", ".custody.json"):
        _swap_json(sess / f"{side['clip_id']}{suffix}", side["sha256"], forged["sha256"])
    report = lab.gateway(spool, lab.work / "strip-state")
    lab.wait()
    reasons = [p.read_text() for p in (lab.work / "strip-state/quarantine").rglob("*.wav.reason.txt")]
    status = next((i for i in lab.summary().integrity if i["badge"] == "B0011"), {})
    ok = report.clips_quarantined == 1 and any("seal was removed" in r for r in reasons) \
        and status.get("status") == "failed"
    return Row("seal stripped (a sealed clip rewritten as format 1)", "bad MAC: quarantined and reported",
               f"quarantined {report.clips_quarantined}: {[r[:50] for r in reasons]}; session {status.get('status')}",
               ok)


def _until(cond: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    end = time.monotonic() + timeout_s
    while not cond() and time.monotonic() < end:
        time.sleep(0.05)
    return cond()


def a_forged_receipt(lab: Lab) -> Row:
    """On the broker without accounts (anyone may publish anything): receipts that would make
    the gateway drop messages no receiver holds."""
    ring = lab.work / "receivers"
    rx_key = GatewayKey.generate(lab.work / "rx.key", "rx1")
    KeyRing(ring, role="receiver").enrol("acme", "sh01", "rx1", rx_key.public_pem())
    bs = lab.bs("", lab.open_broker)
    seen: dict[str, list[Any]] = {"ids": [], "receipts": []}
    spy = Connection(bs, client_id="receipt-forger")
    spy.client.on_message = lambda c, u, m: seen["receipts" if m.topic.endswith("/receipts") else "ids"].append(
        bytes(m.payload) if m.topic.endswith("/receipts") else user_properties(m.properties).get("msg_id"))
    spy.start(require=True)
    spy.client.subscribe(f"{T}/#", qos=1)
    time.sleep(0.2)
    pub = Publisher(bs, PublisherSettings(tenant="acme", branch="sh01", gateway_id="gw-open", receiver_keys=ring,
                                          resend_unconfirmed_s=0.5), Outbox(lab.work / "gw-open.db"))
    pub.start()
    rx = None
    try:
        pub.enqueue("B0009/S0001/findings", {"kind": "findings", "revision": 1})
        pub.enqueue("B0009/S0001/audio/B0009-00000001", b"\x01" * 4000, kind="audio")
        pub.flush(10, confirmed=False)
        _until(lambda: len(set(seen["ids"]) - {None}) >= 2)
        ids, topic = sorted(set(seen["ids"]) - {None}), pub.receipts_topic
        for forged in (json.dumps({"msg_ids": ids}).encode(),
                       ReceiptMaker(GatewayKey.generate(lab.work / "forger.key", "rx1"), "rx1").make(topic, pub.run_id, ids),
                       ReceiptMaker(rx_key, "rx1").make(topic.replace("gw-open", "gw-other"), pub.run_id, ids)):
            spy.client.publish(topic, forged, qos=1).wait_for_publish(5)
        _until(lambda: pub.receipts_refused >= 3)
        kept = pub.outbox.depth
        rx = Receiver(ReceiverSettings(broker=bs, out_dir=lab.work / "receipts-out", client_id="rx1",
                                       signing_key=lab.work / "rx.key", receiver_id="rx1"))
        rx.start()
        confirmed = pub.flush(15)
        _until(lambda: bool(seen["receipts"]))
        rx.stop()
        pub.enqueue("B0009/S0001/findings", {"kind": "findings", "revision": 1})  # same content: same msg id
        pub.flush(10, confirmed=False)
        if seen["receipts"]:
            spy.client.publish(topic, seen["receipts"][-1], qos=1).wait_for_publish(5)  # a genuine one, replayed
        _until(lambda: pub.receipts_refused >= 4)
        after_replay = pub.outbox.depth
    finally:
        if rx is not None:
            rx.close()
        pub.stop()
        pub.outbox.close()
        spy.stop()
    n = pub.receipts_refused
    ok = n == 4 and kept == 2 and confirmed and after_replay == 1
    return Row("forged receipts (unsigned; an unenrolled key; another gateway's) and a genuine one replayed",
               "refused and reported; messages stay in the outbox until the enrolled receiver confirms",
               f"refused {n}/4, kept {kept}/2 in the outbox, then confirmed by the enrolled receiver: {confirmed}, "
               f"kept after the replay {after_replay}/1", ok)


def a_genuine_unchanged(lab: Lab) -> Row:
    changed = [str(p.relative_to(lab.out)) for p, data in lab.genuine.items()
               if p.suffix in (".wav", ".json") and "clips" in p.parts and p.read_bytes() != data]
    s = lab.summary()
    first = next(i for i in s.integrity if i["badge"] == "B0001" and i["session"] == "S0001")
    ok = not changed and first["verified"] == 3 and first["status"] == "verified" and not first["unauthenticated"]
    return Row("genuine evidence after every attack", "unchanged, 3/3 verified, sealed by the badge",
               f"changed files {changed or 'none'}, verified {first['verified']}/3, status {first['status']}", ok)


ATTACKS: list[tuple[str, Callable[..., Row]]] = [
    ("traversal-branch", a_traversal_into_branch),
    ("traversal-out", a_traversal_out_of_out),
    ("replace", a_clip_replacement),
    ("forged-chain", a_forged_chain),
    ("future-revision", a_future_revision),
    ("lowered-samples", a_lowered_samples),
    ("duplicate", a_duplicate_clip),
    ("forged-key", a_forged_key),
    ("replay", a_replayed_clip),
    ("moved", a_moved_clip),
    ("truncated-tip", a_truncated_tip),
    ("audio-ahead", a_audio_ahead),
    ("bad-mac", a_bad_mac),
    ("stripped-seal", a_stripped_seal),
    ("file-modes", a_file_modes),
    ("forged-receipt", a_forged_receipt),
    ("genuine", a_genuine_unchanged),
]


def run(work: Path, model: Path | None = None, only: list[str] | None = None,
        log: Callable[[str], None] = print) -> list[Row]:
    lab = Lab(work)
    rows = []
    try:
        if not lab.report.delivered or lab.summary().clips_verified != 3:
            raise RuntimeError(f"the genuine delivery failed: {lab.report}")
        for name, fn in ATTACKS:
            if only and name not in only:
                continue
            try:
                row = fn(lab, model) if name == "duplicate" else fn(lab)
            except Exception as exc:  # noqa: BLE001 - a crash is a row that failed, shown as such
                row = Row(name, "refused or reported", f"crashed: {type(exc).__name__}: {exc}", False)
            log(f"{'ok  ' if row.ok else 'FAIL'} {row.attack}: {row.result}")
            rows.append(row)
    finally:
        lab.close()
    if not only or "badge" in only:  # the badge side: AUTH back-off and a minimal HELLO
        from attacks_badge import badge_rows

        try:
            badge = badge_rows()
        except Exception as exc:  # noqa: BLE001 - a crash is a row that failed, shown as such
            badge = [Row("badge", "AUTH refused, HELLO minimal", f"crashed: {type(exc).__name__}: {exc}", False)]
        for row in badge:
            log(f"{'ok  ' if row.ok else 'FAIL'} {row.attack}: {row.result}")
        rows += badge
    return rows


def table(rows: list[Row]) -> str:
    """A Markdown table: attack, expected, result (refused/reported or FAIL, with what was seen)."""
    lines = ["| attack | expected | result |", "| --- | --- | --- |"]
    lines += [f"| {r.attack} | {r.expected} | {'refused/reported' if r.ok else 'FAIL'}: {r.result} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, help="Keep the lab here (default: a temporary folder).")
    ap.add_argument("--model", type=Path, help="Speech model folder (default: the installed one).")
    ap.add_argument("--only", action="append", help=f"Run only these attacks: {[n for n, _ in ATTACKS] + ['badge']}")
    args = ap.parse_args(argv)
    tmp = None
    if args.work is None:
        tmp = tempfile.mkdtemp(prefix="badgekit-attacks-")
    work = args.work or Path(tmp)  # type: ignore[arg-type]
    try:
        rows = run(work, args.model, args.only, log=lambda s: print(s, file=sys.stderr))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(table(rows))
    bad = [r for r in rows if not r.ok]
    print(f"\n{len(rows) - len(bad)}/{len(rows)} attacks refused or reported")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

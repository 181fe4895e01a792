"""Topics and the outbox on their own: names that cannot escape a branch, durable states."""

from __future__ import annotations

import pytest

from gateway.delivery import Outbox, TopicError, Topics, parse
from gateway.delivery.envelope import CHUNK_BYTES_MAX, blob_messages


def test_topics_are_versioned_and_every_level_is_checked():
    t = Topics("acme", "sh01")
    assert t.clip("B1", "S1", "audio", "B1-00000001") == "badgekit/v1/acme/sh01/B1/S1/audio/B1-00000001"
    assert t.status("gw1") == "badgekit/v1/acme/sh01/_gateway/gw1/status"
    assert Topics.subscription("acme", share_group="pool") == "$share/pool/badgekit/v1/acme/+/#"
    info = parse(t.clip("B1", "S1", "custody", "B1-00000001"))
    assert (info.tenant, info.branch, info.badge, info.session, info.kind, info.clip_id) == \
        ("acme", "sh01", "B1", "S1", "custody", "B1-00000001")
    assert parse(t.session("B1", "S1", "findings")).kind == "findings"
    for bad in ("a/b", "+", "#", "_x", "$SYS", "", " x"):
        with pytest.raises(TopicError):
            t.session(bad, "S1", "manifest")
    with pytest.raises(TopicError):
        Topics("acme", "sh01/../bj02")
    with pytest.raises(TopicError):
        parse("badgekit/v2/acme/sh01/B1/S1/manifest")


def test_blobs_split_into_parts_with_content_addressed_ids():
    data = bytes(range(256)) * 1200  # 300 KiB
    parts = blob_messages("badgekit/v1/a/b/B/S/audio/C", data, "audio")
    assert [len(p.payload) for p in parts] == [CHUNK_BYTES_MAX, CHUNK_BYTES_MAX, len(data) - 2 * CHUNK_BYTES_MAX]
    assert b"".join(p.payload for p in parts) == data
    again = blob_messages("badgekit/v1/a/b/B/S/audio/C", data, "audio")
    assert [p.msg_id for p in parts] == [p.msg_id for p in again]
    other = blob_messages("badgekit/v1/a/b/B/S/audio/C", data[:-1] + b"\1", "audio")
    assert not {p.msg_id for p in parts} & {p.msg_id for p in other}


def test_outbox_survives_reopen_and_keeps_messages_until_confirmed(tmp_path):
    box = Outbox(tmp_path / "o.db")
    msgs = blob_messages("badgekit/v1/a/b/B/S/audio/C", b"x" * 300_000, "audio")
    assert box.put(msgs) == 3 and box.put(msgs) == 0  # same ids: stored once
    box.close()
    box = Outbox(tmp_path / "o.db")  # as after a crash: everything still pending
    pending = box.pending()
    assert [m.msg_id for m in pending] == [m.msg_id for m in msgs] and box.depth == 3
    box.ack([pending[0].seq, pending[1].seq])
    st = box.stats()
    assert (st.pending, st.unconfirmed, box.depth) == (1, 2, 3)
    assert box.resend_unconfirmed() == 2 and box.stats().pending == 3
    box.confirm([m.msg_id for m in msgs[:2]])
    box.reject(pending[2].seq, "too large")
    st = box.stats()
    assert (st.pending, st.unconfirmed, st.rejected, box.depth) == (0, 0, 1, 0)
    assert box.rejected()[0][3] == "too large"
    assert box.retry_rejected() == 1 and box.depth == 1
    box.close()

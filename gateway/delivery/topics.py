"""Versioned MQTT topics: `badgekit/v1/{tenant}/{branch}/{badge}/{session}/...`.

Every level is checked (no wildcards, no `/` or `\\`, no NUL or control characters, no
leading `_`, `$` or `.`, so never `.` or `..`), when topics are made and when they are
parsed, so a badge or session id can never escape its branch's subtree (which is what
the broker's ACL grants to the branch's gateway) nor, joined into a path by a receiver,
its output folder. Per session:

| topic | payload |
| --- | --- |
| `…/{badge}/{session}/clip/{clip id}` | clip record: sidecar, WAV size and hash, parts |
| `…/{badge}/{session}/audio/{clip id}` | the clip's WAV bytes, in parts of ≤ 128 KiB |
| `…/{badge}/{session}/custody/{clip id}` | the companion's custody record |
| `…/{badge}/{session}/transcript` | the session transcript (JSON + WebVTT) |
| `…/{badge}/{session}/manifest` | the session manifest: clips, hashes, gaps |
| `badgekit/v1/{tenant}/{branch}/_gateway/{gateway id}/status` | retained status, last will |
| `badgekit/v1/{tenant}/{branch}/_gateway/{gateway id}/receipts` | receiver → gateway: stored msg ids |

Further per-session kinds (e.g. `findings`) use the same shape: `…/{badge}/{session}/{kind}`.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.delivery.errors import TopicError

__all__ = ["ROOT", "VERSION", "TopicInfo", "Topics", "check_level", "parse"]

ROOT = "badgekit"
VERSION = "v1"
GATEWAY_LEVEL = "_gateway"
_MAX_LEVEL = 128
_PER_CLIP = frozenset({"clip", "audio", "custody"})


def check_level(value: str, what: str) -> str:
    """Return `value` if it is usable as one topic level, else raise `TopicError`."""
    if not value or len(value) > _MAX_LEVEL:
        raise TopicError(f"{what} must be 1-{_MAX_LEVEL} characters, got {value[:40]!r}")
    if (any(c in value for c in "/\\+#") or any(ord(c) < 0x20 or c == "\x7f" for c in value)
            or value[0] in "_$." or value != value.strip()):
        raise TopicError(f"{what} {value[:40]!r} cannot be a topic level (no / \\ + # or control "
                         "characters, no leading _ $ . or blanks)")
    return value


@dataclass(frozen=True)
class Topics:
    """Topic names for one tenant and branch."""

    tenant: str
    branch: str

    def __post_init__(self) -> None:
        check_level(self.tenant, "tenant")
        check_level(self.branch, "branch")

    @property
    def base(self) -> str:
        return f"{ROOT}/{VERSION}/{self.tenant}/{self.branch}"

    def full(self, suffix: str) -> str:
        """`base/suffix`; every level of the suffix is checked."""
        levels = suffix.split("/")
        if levels and levels[0] == GATEWAY_LEVEL:
            rest = levels[1:]
        else:
            rest = levels
        for level in rest:
            check_level(level, "topic level")
        return f"{self.base}/{suffix}"

    def session(self, badge: str, session: str, kind: str) -> str:
        check_level(badge, "badge")
        check_level(session, "session")
        check_level(kind, "kind")
        return self.full(f"{badge}/{session}/{kind}")

    def clip(self, badge: str, session: str, kind: str, clip_id: str) -> str:
        if kind not in _PER_CLIP:
            raise TopicError(f"unknown per-clip kind {kind!r}")
        check_level(clip_id, "clip id")
        return self.session(badge, session, kind) + f"/{clip_id}"

    def status(self, gateway_id: str) -> str:
        check_level(gateway_id, "gateway id")
        return f"{self.base}/{GATEWAY_LEVEL}/{gateway_id}/status"

    def receipts(self, gateway_id: str) -> str:
        check_level(gateway_id, "gateway id")
        return f"{self.base}/{GATEWAY_LEVEL}/{gateway_id}/receipts"

    @staticmethod
    def subscription(tenant: str = "+", branch: str = "+", share_group: str | None = None) -> str:
        """The filter a receiver subscribes to; with `share_group` an MQTT 5 shared one."""
        for value, what in ((tenant, "tenant"), (branch, "branch")):
            if value != "+":
                check_level(value, what)
        flt = f"{ROOT}/{VERSION}/{tenant}/{branch}/#"
        if share_group:
            check_level(share_group, "share group")
            return f"$share/{share_group}/{flt}"
        return flt


@dataclass(frozen=True)
class TopicInfo:
    """A parsed badgekit topic. `clip_id` is set for per-clip kinds, `gateway_id` for status."""

    tenant: str
    branch: str
    kind: str
    badge: str = ""
    session: str = ""
    clip_id: str = ""
    gateway_id: str = ""


def parse(topic: str) -> TopicInfo:
    """Split a topic into its parts; raise `TopicError` if it is not a badgekit v1 topic."""
    levels = topic.split("/")
    if len(levels) < 5 or levels[0] != ROOT:
        raise TopicError(f"not a badgekit topic: {topic!r}")
    if levels[1] != VERSION:
        raise TopicError(f"unsupported topic version {levels[1]!r} in {topic!r}")
    tenant, branch, rest = levels[2], levels[3], levels[4:]
    check_level(tenant, "tenant")
    check_level(branch, "branch")
    if rest[0] == GATEWAY_LEVEL:
        if len(rest) == 3 and rest[2] in ("status", "receipts"):
            return TopicInfo(tenant, branch, rest[2], gateway_id=check_level(rest[1], "gateway id"))
        raise TopicError(f"unknown gateway topic {topic[:200]!r}")
    if len(rest) in (3, 4):
        for value, what in zip(rest, ("badge", "session", "kind", "clip id"), strict=False):
            check_level(value, what)
    if len(rest) == 3:
        return TopicInfo(tenant, branch, rest[2], badge=rest[0], session=rest[1])
    if len(rest) == 4 and rest[2] in _PER_CLIP:
        return TopicInfo(tenant, branch, rest[2], badge=rest[0], session=rest[1], clip_id=rest[3])
    raise TopicError(f"unknown badgekit topic {topic[:200]!r}")

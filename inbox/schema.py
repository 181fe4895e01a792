"""The inbox's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

The migrations in `inbox/migrations/versions/` create exactly these tables; a test
compares the two. Meetings carry the columns the list filters and sorts on, each with
an index led by `tenant`; the `stat_*` tables are roll-ups kept in the same transaction
as an import or a review, so dashboards read rows per branch (or, for one branch, per
agent) and week or day, never one row per meeting or finding.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = ["metadata", "meetings", "clips", "findings", "documents", "audit", "users", "tokens",
           "login_failures", "secrets", "stat_item_week", "stat_agent_item_week", "stat_agent_day",
           "stat_branch_day", "stat_review_week"]

metadata = MetaData()

secrets = Table(
    "secrets", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
)

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("tenant", String(128), nullable=False),
    Column("branches", Text, nullable=False, default=""),  # comma-separated; "" = every branch
    Column("password_hash", String(256), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

tokens = Table(
    "tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
)

login_failures = Table(
    "login_failures", metadata,
    Column("name", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", Float, nullable=False),
)

meetings = Table(
    "meetings", metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant", String(128), nullable=False),
    Column("branch", String(128), nullable=False),
    Column("badge", String(128), nullable=False),
    Column("session", String(128), nullable=False),
    Column("agent", String(128), nullable=False),
    Column("case_id", String(128)),
    Column("started_at", DateTime, nullable=False),
    Column("day", Date, nullable=False),
    Column("week", String(8), nullable=False),  # ISO week, "2026-W49"
    Column("received_at", DateTime),
    Column("sync_delay_s", Float),
    Column("duration_s", Float, nullable=False),
    Column("speech_s", Float, nullable=False),
    Column("clips", Integer, nullable=False),
    Column("gaps", Integer, nullable=False),
    Column("recovered", Integer, nullable=False),
    Column("dropped_ms", Integer, nullable=False),
    Column("problems", Integer, nullable=False),
    Column("worst", Integer, nullable=False),  # 0 严重, 1 一般, 2 提示, 9 none
    Column("review_state", String(16), nullable=False),  # pending, passed, failed, reinspect
    Column("reinspections", Integer, nullable=False),
    Column("first_reinspection", String(16), nullable=False),  # "", passed, failed
    Column("audio_sha256", String(64)),
    Column("revision", BigInteger, nullable=False),  # highest document revision imported
    Column("digest", String(64), nullable=False),  # sha256 over every imported file
    Column("imported_at", DateTime, nullable=False),
    UniqueConstraint("tenant", "branch", "badge", "session", name="uq_meeting"),
    Index("ix_meetings_started", "tenant", "started_at", "id"),
    Index("ix_meetings_branch", "tenant", "branch", "started_at"),
    Index("ix_meetings_agent", "tenant", "agent", "started_at"),
    Index("ix_meetings_badge", "tenant", "badge", "started_at"),
    Index("ix_meetings_case", "tenant", "case_id"),
    Index("ix_meetings_state", "tenant", "review_state", "started_at"),
    Index("ix_meetings_worst", "tenant", "worst", "started_at"),
    Index("ix_meetings_state_worst", "tenant", "review_state", "worst", "started_at"),
    # the list's counts per review state within a branch, an agent or a badge
    Index("ix_meetings_branch_state", "tenant", "branch", "review_state", "started_at"),
    Index("ix_meetings_agent_state", "tenant", "agent", "review_state", "started_at"),
    Index("ix_meetings_badge_state", "tenant", "badge", "review_state", "started_at"),
)

clips = Table(
    "clips", metadata,
    Column("id", Integer, primary_key=True),
    Column("meeting_id", Integer, ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
    Column("clip_id", String(160), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("prev_sha256", String(64), nullable=False),
    Column("wav_sha256", String(64), nullable=False),
    Column("offset_s", Float, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("start_time", String(40)),
    Column("recovered", Boolean, nullable=False),
    Column("dropped_ms", Integer, nullable=False),
    Column("custody", Text, nullable=False),
    UniqueConstraint("meeting_id", "clip_id", name="uq_clip"),
)

findings = Table(
    "findings", metadata,
    Column("id", Integer, primary_key=True),
    Column("meeting_id", Integer, ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("start_s", Float),
    Column("clip", String(160)),
    Column("credited_from", String(128)),
    Column("review", String(16), nullable=False),  # open, confirmed, overruled
    Column("review_reason", Text, nullable=False),
    Index("ix_findings_meeting", "meeting_id"),
)

documents = Table(
    "documents", metadata,
    Column("meeting_id", Integer, ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("revision", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("body", Text, nullable=False),
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True),
    Column("meeting_id", Integer, ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", String(200), nullable=False),
    Column("before", Text, nullable=False),
    Column("after", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("meeting_id", "seq", name="uq_audit_seq"),  # two writers cannot fork the chain
)

stat_item_week = Table(  # per branch: the company-wide charts read branches x weeks x items rows
    "stat_item_week", metadata,
    Column("tenant", String(128), primary_key=True),
    Column("branch", String(128), primary_key=True),
    Column("week", String(8), primary_key=True),
    Column("item_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("hits", Integer, nullable=False),
    Column("sessions", Integer, nullable=False),
)

stat_agent_item_week = Table(  # per agent: read one branch at a time
    "stat_agent_item_week", metadata,
    Column("tenant", String(128), primary_key=True),
    Column("branch", String(128), primary_key=True),
    Column("agent", String(128), primary_key=True),
    Column("week", String(8), primary_key=True),
    Column("item_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("hits", Integer, nullable=False),
    Column("sessions", Integer, nullable=False),
)

stat_branch_day = Table(
    "stat_branch_day", metadata,
    Column("tenant", String(128), primary_key=True),
    Column("branch", String(128), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("meetings", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("delay_s", Float, nullable=False),
    Column("delay_n", Integer, nullable=False),
)

stat_agent_day = Table(
    "stat_agent_day", metadata,
    Column("tenant", String(128), primary_key=True),
    Column("branch", String(128), primary_key=True),
    Column("agent", String(128), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("meetings", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("delay_s", Float, nullable=False),
    Column("delay_n", Integer, nullable=False),
)

stat_review_week = Table(
    "stat_review_week", metadata,
    Column("tenant", String(128), primary_key=True),
    Column("branch", String(128), primary_key=True),
    Column("week", String(8), primary_key=True),
    Column("reinspected", Integer, nullable=False),
    Column("first_pass", Integer, nullable=False),
)

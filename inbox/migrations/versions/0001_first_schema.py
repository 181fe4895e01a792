"""The first schema: meetings, clips, findings, documents, audit, users, roll-ups.

Revision ID: 0001
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_failures',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('branch', sa.String(length=128), nullable=False),
    sa.Column('badge', sa.String(length=128), nullable=False),
    sa.Column('session', sa.String(length=128), nullable=False),
    sa.Column('agent', sa.String(length=128), nullable=False),
    sa.Column('case_id', sa.String(length=128), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=True),
    sa.Column('sync_delay_s', sa.Float(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('speech_s', sa.Float(), nullable=False),
    sa.Column('clips', sa.Integer(), nullable=False),
    sa.Column('gaps', sa.Integer(), nullable=False),
    sa.Column('recovered', sa.Integer(), nullable=False),
    sa.Column('dropped_ms', sa.Integer(), nullable=False),
    sa.Column('problems', sa.Integer(), nullable=False),
    sa.Column('worst', sa.Integer(), nullable=False),
    sa.Column('review_state', sa.String(length=16), nullable=False),
    sa.Column('reinspections', sa.Integer(), nullable=False),
    sa.Column('first_reinspection', sa.String(length=16), nullable=False),
    sa.Column('audio_sha256', sa.String(length=64), nullable=True),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant', 'branch', 'badge', 'session', name='uq_meeting')
    )
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.create_index('ix_meetings_agent', ['tenant', 'agent', 'started_at'], unique=False)
        batch_op.create_index('ix_meetings_agent_state', ['tenant', 'agent', 'review_state', 'started_at'], unique=False)
        batch_op.create_index('ix_meetings_badge', ['tenant', 'badge', 'started_at'], unique=False)
        batch_op.create_index('ix_meetings_badge_state', ['tenant', 'badge', 'review_state', 'started_at'], unique=False)
        batch_op.create_index('ix_meetings_branch', ['tenant', 'branch', 'started_at'], unique=False)
        batch_op.create_index('ix_meetings_branch_state', ['tenant', 'branch', 'review_state', 'started_at'], unique=False)
        batch_op.create_index('ix_meetings_case', ['tenant', 'case_id'], unique=False)
        batch_op.create_index('ix_meetings_started', ['tenant', 'started_at', 'id'], unique=False)
        batch_op.create_index('ix_meetings_state', ['tenant', 'review_state', 'started_at'], unique=False)
        batch_op.create_index('ix_meetings_state_worst', ['tenant', 'review_state', 'worst', 'started_at'], unique=False)
        batch_op.create_index('ix_meetings_worst', ['tenant', 'worst', 'started_at'], unique=False)

    op.create_table('secrets',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('stat_agent_day',
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('branch', sa.String(length=128), nullable=False),
    sa.Column('agent', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('meetings', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('delay_s', sa.Float(), nullable=False),
    sa.Column('delay_n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'branch', 'agent', 'day')
    )
    op.create_table('stat_agent_item_week',
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('branch', sa.String(length=128), nullable=False),
    sa.Column('agent', sa.String(length=128), nullable=False),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('sessions', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'branch', 'agent', 'week', 'item_id')
    )
    op.create_table('stat_branch_day',
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('branch', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('meetings', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('delay_s', sa.Float(), nullable=False),
    sa.Column('delay_n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'branch', 'day')
    )
    op.create_table('stat_item_week',
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('branch', sa.String(length=128), nullable=False),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('sessions', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'branch', 'week', 'item_id')
    )
    op.create_table('stat_review_week',
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('branch', sa.String(length=128), nullable=False),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('reinspected', sa.Integer(), nullable=False),
    sa.Column('first_pass', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'branch', 'week')
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('branches', sa.Text(), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sa.String(length=40), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('before', sa.Text(), nullable=False),
    sa.Column('after', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('meeting_id', 'seq', name='uq_audit_seq')
    )
    op.create_table('clips',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('clip_id', sa.String(length=160), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('prev_sha256', sa.String(length=64), nullable=False),
    sa.Column('wav_sha256', sa.String(length=64), nullable=False),
    sa.Column('offset_s', sa.Float(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('start_time', sa.String(length=40), nullable=True),
    sa.Column('recovered', sa.Boolean(), nullable=False),
    sa.Column('dropped_ms', sa.Integer(), nullable=False),
    sa.Column('custody', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('meeting_id', 'clip_id', name='uq_clip')
    )
    op.create_table('documents',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('revision', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id', 'kind')
    )
    op.create_table('findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('start_s', sa.Float(), nullable=True),
    sa.Column('clip', sa.String(length=160), nullable=True),
    sa.Column('credited_from', sa.String(length=128), nullable=True),
    sa.Column('review', sa.String(length=16), nullable=False),
    sa.Column('review_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.create_index('ix_findings_meeting', ['meeting_id'], unique=False)

    op.create_table('tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256')
    )


def downgrade() -> None:
    op.drop_table('tokens')
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index('ix_findings_meeting')

    op.drop_table('findings')
    op.drop_table('documents')
    op.drop_table('clips')
    op.drop_table('audit')
    op.drop_table('users')
    op.drop_table('stat_review_week')
    op.drop_table('stat_item_week')
    op.drop_table('stat_branch_day')
    op.drop_table('stat_agent_item_week')
    op.drop_table('stat_agent_day')
    op.drop_table('secrets')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_index('ix_meetings_worst')
        batch_op.drop_index('ix_meetings_state_worst')
        batch_op.drop_index('ix_meetings_state')
        batch_op.drop_index('ix_meetings_started')
        batch_op.drop_index('ix_meetings_case')
        batch_op.drop_index('ix_meetings_branch_state')
        batch_op.drop_index('ix_meetings_branch')
        batch_op.drop_index('ix_meetings_badge_state')
        batch_op.drop_index('ix_meetings_badge')
        batch_op.drop_index('ix_meetings_agent_state')
        batch_op.drop_index('ix_meetings_agent')

    op.drop_table('meetings')
    op.drop_table('login_failures')

"""rounds and assignments: mutual-selection rounds with their members' rank lists, programme assignments

`engagement.round_id` and `engagement.assignment_id` (from 0002) stay plain indexed integers without foreign keys:
rounds and assignments are never deleted, and adding a constraint to `engagement` on SQLite means recreating the
table (batch mode), which would put its AUTOINCREMENT and its partial unique index at risk for no gain.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offers", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment")),
    )
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assignment_status"), ["status"], unique=False)

    op.create_table(
        "round",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("proposing", sa.String(length=10), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round")),
    )
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_round_status"), ["status"], unique=False)

    op.create_table(
        "round_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("demand_id", sa.Integer(), nullable=True),
        sa.Column("expert_id", sa.Integer(), nullable=True),
        sa.Column("ranking", sa.JSON(), nullable=True),
        sa.Column("ranked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("(demand_id IS NULL) <> (expert_id IS NULL)", name=op.f("ck_round_member_one_party")),
        sa.ForeignKeyConstraint(
            ["demand_id"], ["demand.id"], name=op.f("fk_round_member_demand_id_demand"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["expert.id"], name=op.f("fk_round_member_expert_id_expert"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["round.id"], name=op.f("fk_round_member_round_id_round"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_member")),
    )
    with op.batch_alter_table("round_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_round_member_demand_id"), ["demand_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_round_member_expert_id"), ["expert_id"], unique=False)
        batch_op.create_index("uq_round_member_demand", ["round_id", "demand_id"], unique=True)
        batch_op.create_index("uq_round_member_expert", ["round_id", "expert_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("round_member", schema=None) as batch_op:
        batch_op.drop_index("uq_round_member_expert")
        batch_op.drop_index("uq_round_member_demand")
        batch_op.drop_index(batch_op.f("ix_round_member_expert_id"))
        batch_op.drop_index(batch_op.f("ix_round_member_demand_id"))

    op.drop_table("round_member")
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_round_status"))

    op.drop_table("round")
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignment_status"))

    op.drop_table("assignment")

"""teams of specialists (SPEC §8.4)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 07:24:50.318526
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lead_expert_id", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["lead_expert_id"], ["expert.id"], name=op.f("fk_team_lead_expert_id_expert")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team")),
        sa.UniqueConstraint("external_id", name=op.f("uq_team_external_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_lead_expert_id"), ["lead_expert_id"], unique=False)

    op.create_table(
        "team_member",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("expert_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["expert.id"], name=op.f("fk_team_member_expert_id_expert"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_team_member_team_id_team"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id", "expert_id", name=op.f("pk_team_member")),
    )
    with op.batch_alter_table("team_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_member_expert_id"), ["expert_id"], unique=False)

    with op.batch_alter_table("engagement", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_engagement_team_id"), ["team_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("engagement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_engagement_team_id"))
        batch_op.drop_column("team_id")

    with op.batch_alter_table("team_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_member_expert_id"))

    op.drop_table("team_member")
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_lead_expert_id"))

    op.drop_table("team")

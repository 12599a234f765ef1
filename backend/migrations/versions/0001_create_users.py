"""create users

Revision ID: 0001
Revises:
Create Date: 2026-01-10
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

REQUIRED_COLUMNS = {"id", "email", "name", "role", "password_hash", "created_at", "updated_at"}


def upgrade() -> None:
    existing = sa.inspect(op.get_bind())
    if existing.has_table("users"):
        # A database from before Alembic: adopt it if it has our shape, else stop loudly
        # rather than fail later on the first login.
        columns = {c["name"] for c in existing.get_columns("users")}
        missing = REQUIRED_COLUMNS - columns
        if missing:
            raise RuntimeError(
                f"existing users table lacks columns {sorted(missing)}; migrate it by hand once"
            )
        return
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'founder')", name="ck_users_role"),
    )
    op.create_index("ix_users_email", "users", ["email"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_email", table_name="users")
    op.drop_table("users")

"""Alembic environment: runs every migration as the owner role inside schema ``app``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from warehouse.db import Roles, make_engine
from warehouse.models import metadata

config = context.config


def run_migrations_online() -> None:
    url = config.attributes["url"]
    roles: Roles = config.attributes["roles"]
    engine = make_engine(url, None)
    with engine.connect() as conn:
        conn.execute(text(f"SET ROLE {roles.owner}"))
        conn.commit()
        context.configure(
            connection=conn,
            target_metadata=metadata,
            version_table_schema="app",
            include_schemas=True,
            include_name=lambda name, type_, parent: type_ != "schema" or name == "app",
            transaction_per_migration=True,
        )
        context.config.attributes["connection"] = conn
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()
    engine.dispose()


run_migrations_online()

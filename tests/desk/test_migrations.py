"""Migrations build the same schema as the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from desk.fts import include_name
from desk.models import Base
from desk.schema import upgrade
from desk.settings import Settings
from tests.support.databases import PostgresServer, drop_database


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path,
             pg_server: PostgresServer) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    else:
        url = pg_server.create_database()
        yield url
        drop_database(pg_server, url)


def _diff(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                 "include_name": include_name})
    return list(compare_metadata(ctx, Base.metadata))


async def _compare(url: str) -> list[Any]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    await engine.dispose()
    return diff


def test_upgrade_head_matches_models(empty_db: str, tmp_path: Path) -> None:
    settings = Settings.from_env({"SWITCHBOARD_DATA_DIR": str(tmp_path),
                                  "DATABASE_URL": empty_db})
    upgrade(settings)
    upgrade(settings)  # idempotent
    assert asyncio.run(_compare(empty_db)) == []

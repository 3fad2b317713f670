"""Create and drop throwaway PostgreSQL databases for a test session or a bench run."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from desk.models import Base


@dataclass(frozen=True)
class PostgresServer:
    url: str  # postgresql://user@host:port (no database)

    @classmethod
    def from_env(cls) -> PostgresServer:
        return cls(os.environ.get("SWITCHBOARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432"))

    def create_database(self, prefix: str = "sbtest") -> str:
        """A new empty database; its SQLAlchemy URL (asyncpg)."""
        name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        asyncio.run(_execute(self.url + "/postgres", f'CREATE DATABASE "{name}"'))
        return self.url.replace("postgresql://", "postgresql+asyncpg://", 1) + "/" + name


def drop_database(server: PostgresServer, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    sql = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    asyncio.run(_execute(server.url + "/postgres", sql))


async def _execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def truncate_all(engine: AsyncEngine) -> None:
    """Empty every table, keeping the schema (faster than recreating it per test)."""
    tables = list(reversed(Base.metadata.sorted_tables))
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(table.delete())

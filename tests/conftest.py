"""Shared fixtures: real Redis, real SQLite/PostgreSQL, Settings.

Environment knobs:
- ``SWITCHBOARD_TEST_DB``: ``sqlite`` (default) or ``postgres`` — which database the records use.
- ``SWITCHBOARD_TEST_PG``: server URL for PostgreSQL (default ``postgresql://postgres@127.0.0.1:5432``).
- ``SWITCHBOARD_TEST_REDIS``: Redis server (default ``redis://127.0.0.1:6379``).
- ``SWITCHBOARD_TEST_REDIS_DB``: the DB index flushed per test (default 15), so parallel suites can
  be given different indexes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from desk.db import SessionMaker, make_engine, make_sessionmaker
from desk.schema import create_all
from desk.settings import Settings
from tests.support.databases import PostgresServer, drop_database, truncate_all
from tests.support.smtp_sink import Sink, running_sink
from tests.support.watchdog import watching

REDIS_SERVER = os.environ.get("SWITCHBOARD_TEST_REDIS", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("SWITCHBOARD_TEST_REDIS_DB", "15"))
DB_KIND = os.environ.get("SWITCHBOARD_TEST_DB", "sqlite")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return f"{REDIS_SERVER}/{REDIS_DB}"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A real Redis connection on the test DB index, flushed before and after each test."""
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer.from_env()
    yield server


@pytest.fixture(scope="session")
def session_database_url(
    tmp_path_factory: pytest.TempPathFactory, pg_server: PostgresServer
) -> Iterator[str]:
    """One fresh database for the whole test session (SQLite file or new PostgreSQL db)."""
    if DB_KIND == "postgres":
        url = pg_server.create_database()
        yield url
        drop_database(pg_server, url)
    else:
        path: Path = tmp_path_factory.mktemp("db") / "switchboard.db"
        yield f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def smtp_sink() -> Iterator[Sink]:
    """A real SMTP server on loopback capturing every message (ingest and realtime tests)."""
    with running_sink(Sink()) as sink:
        yield sink


@pytest.fixture
def settings(tmp_path: Path, session_database_url: str, redis_url: str) -> Settings:
    return Settings.from_env(
        {
            "SWITCHBOARD_MODE": "test",
            "SWITCHBOARD_SECRET_KEY": "test-secret-" + "x" * 40,
            "SWITCHBOARD_DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": session_database_url,
            "REDIS_URL": redis_url,
        }
    )


_schema_ready: set[str] = set()


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine on the session database with the schema in place, emptied after each test."""
    eng = make_engine(settings)
    if settings.database_url not in _schema_ready:
        await create_all(eng)
        _schema_ready.add(settings.database_url)
    yield eng
    await truncate_all(eng)
    await eng.dispose()


@pytest.fixture
def sm(engine: AsyncEngine) -> SessionMaker:
    return make_sessionmaker(engine)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """No test may hold the run: task stacks at 4 minutes, the run ends at 8 (the longest
    test takes about one)."""
    capture = item.config.pluginmanager.getplugin("capturemanager")
    with watching(item.nodeid, dump_after_s=240, exit_after_s=480,
                  uncapture=lambda: capture.suspend_global_capture(in_=True)):
        return (yield)


# A test none of whose fixtures reach these never touches the records: the PostgreSQL half
# of the suite leaves it out (it ran on SQLite already, and its outcome cannot differ).
DATABASE_FIXTURES = frozenset({"session_database_url", "pg_server"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: the session-wide sync Playwright keeps an event loop running in the
    main thread, which the asyncio tests cannot share."""
    if DB_KIND == "postgres":
        pure = [i for i in items if not DATABASE_FIXTURES & set(getattr(i, "fixturenames", ()))]
        config.hook.pytest_deselected(items=pure)
        dropped = set(map(id, pure))
        items[:] = [i for i in items if id(i) not in dropped]
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)

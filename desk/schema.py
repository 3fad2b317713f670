"""Create or upgrade the schema: Alembic for real databases, ``create_all`` for throwaway ones."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from desk import fts
from desk.kb import fts as kb_fts
from desk.models import Base
from desk.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    cfg.attributes["settings"] = settings
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Run migrations (blocking; call from sync code or a thread)."""
    if settings.database_url.startswith("sqlite"):
        Path(settings.database_url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), revision)


async def create_all(engine: AsyncEngine) -> None:
    """Tests only: the schema straight from the models (test_migrations checks they agree),
    plus the full-text indexes of migrations 0002 (conversations) and 0003 (knowledge base)."""
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.run_sync(fts.apply)
        await conn.run_sync(kb_fts.apply)

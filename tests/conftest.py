from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T")


def run_app(*args: str, env: dict[str, str] | None = None, timeout: float = 300,
            prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m app ARGS`` from the repository root, as a user would run it."""
    return subprocess.run([*(prefix or []), sys.executable, "-m", "app", *args], cwd=ROOT,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def speech_models() -> Iterator[object]:
    from app.model_loading import load_speech_models
    from voice.config import VoiceConfig

    yield load_speech_models(VoiceConfig())


# --- Databases: every storage test runs on SQLite and on PostgreSQL --------------------------

# The server the PostgreSQL runs use (trust auth, as in CI). Each test session creates its own
# database there and drops it at the end, so concurrent runs never see each other's rows.
POSTGRES_ADMIN_URL = os.environ.get("AVA_TEST_POSTGRES_URL",
                                    "postgresql://postgres@127.0.0.1:5432/test")
_POSTGRES_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def _run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run admin coroutines from sync fixtures on a private loop (leaving pytest-asyncio's
    current event loop alone, which ``asyncio.run`` would reset)."""
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        return runner.run(coroutine)


async def _postgres_execute(dsn: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (asyncpg URL), dropped afterwards.

    An unreachable server fails the PostgreSQL tests (never skips them)."""
    from sqlalchemy.engine import make_url

    admin = make_url(POSTGRES_ADMIN_URL)
    name = f"ava_test_{os.getpid()}_{secrets.token_hex(4)}"
    problem = None
    try:
        _run_async(_postgres_execute(POSTGRES_ADMIN_URL, f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # refused, timed out, no such role or database...
        problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        pytest.fail(f"PostgreSQL is not usable at {admin.render_as_string(hide_password=True)}"
                    f" ({problem}); start it with: {_POSTGRES_START}", pytrace=False)
    try:
        yield admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False)
    finally:
        _run_async(_postgres_execute(POSTGRES_ADMIN_URL,
                                     f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _reset_postgres(url: str) -> None:
    """Empty the session's database: end the connections still open on it (an engine a
    test did not dispose of), then recreate the public schema."""
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    _run_async(_postgres_execute(
        dsn,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
        "DROP SCHEMA public CASCADE",
        "CREATE SCHEMA public"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database's SQLAlchemy URL: a new SQLite file, or the session's PostgreSQL
    database, emptied before and after each test. A module-scoped server may use the session
    database too, but not in a module whose tests use this fixture: the reset would pull
    the tables from under it. Open the URL with ``app.db.open_engine``."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'ava.db'}"
        return
    url: str = request.getfixturevalue("postgres_database_url")
    _reset_postgres(url)
    try:
        yield url
    finally:
        _reset_postgres(url)

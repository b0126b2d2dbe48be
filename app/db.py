"""The database: which URL to use, and an async SQLAlchemy engine with the schema created.

One code path serves both engines: SQLite (aiosqlite, the embedded default, a file in the data
folder) and PostgreSQL (asyncpg, for scale-out). Modules that store something declare their
tables on the shared ``metadata`` here, and ``open_engine`` creates whatever is missing.
There are no migrations yet: ``create_all`` only adds missing tables, never alters one.
The column type and value checks at the end keep both engines behaving alike.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData, TypeDecorator, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# Stable constraint names, so a later migration can refer to them on either engine.
metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"
_POSTGRES_ALIASES = frozenset({"postgresql", "postgres"})

# How long an SQLite writer waits for another connection's (or process's) write lock.
SQLITE_BUSY_TIMEOUT_MS = 15_000

# Connections a PostgreSQL engine keeps open once it has needed them (opened on demand).
# Above the pool size, connections are opened for one use and closed again, which costs a
# dialer running 20 calls at once more than half its throughput; 10 more may still overflow.
POSTGRES_POOL_SIZE = 32

# pg_advisory_xact_lock key taken while creating tables, so that two servers starting at once
# on one PostgreSQL database do not both try to create them (an arbitrary constant: "ava\0").
_SCHEMA_LOCK_KEY = 0x61766100


class DatabaseConfigError(ValueError):
    """The configured database URL cannot be used; the message says what is accepted."""


_ACCEPTED = ("sqlite+aiosqlite:///PATH, postgresql://USER@HOST/DB (also postgres:// or "
             "postgresql+asyncpg://), or unset for SQLite in the data folder")


def database_url(raw: str | None, data_dir: Path) -> str:
    """The SQLAlchemy URL for the configured ``raw`` URL.

    Unset (``None``, or blank, as an empty environment variable gives) means the embedded
    SQLite file ``{data_dir}/ava.db``. libpq-style ``postgresql://`` and ``postgres://`` URLs
    get the asyncpg driver, and their ``sslmode`` parameter becomes asyncpg's ``ssl``.
    URLs that already name ``sqlite+aiosqlite`` or ``postgresql+asyncpg`` are returned as
    given. Anything else raises ``DatabaseConfigError``, whose message repeats no more of
    the URL than its scheme (the rest may hold a password).
    """
    if raw is None or not raw.strip():
        return f"{SQLITE_DRIVER}:///{data_dir.expanduser().resolve() / 'ava.db'}"
    raw = raw.strip()
    scheme, sep, rest = raw.partition("://")
    if not sep:
        raise DatabaseConfigError(f"the database URL has no scheme; use {_ACCEPTED}")
    scheme = scheme.lower()
    if scheme in (SQLITE_DRIVER, POSTGRES_DRIVER):
        converted = f"{scheme}://{rest}"
    elif scheme in _POSTGRES_ALIASES:
        converted = f"{POSTGRES_DRIVER}://{rest}"
    else:
        raise DatabaseConfigError(
            f"unsupported database URL scheme {scheme[:40]!r}; use {_ACCEPTED}")
    try:
        url = make_url(converted)
    except ArgumentError:
        raise DatabaseConfigError(f"the database URL cannot be parsed; use {_ACCEPTED}") from None
    if scheme in _POSTGRES_ALIASES and "sslmode" in url.query:
        query = dict(url.query)
        query["ssl"] = query.pop("sslmode")
        converted = url.set(query=query).render_as_string(hide_password=False)
    return converted


async def open_engine(url: str) -> AsyncEngine:
    """An engine for ``url`` (as ``database_url`` returns it) with every table created.

    SQLite: the parent folder is created; each connection gets a busy timeout (so a writer
    waits for another process's write lock instead of failing), WAL journal mode (readers
    never block the writer) and foreign keys on. Several engines, in one or several
    processes, may open the same file. The caller disposes of the engine.

    Statement parameters (a caller's words) are kept out of SQLAlchemy's error messages and
    logs (``hide_parameters``), so a database error that gets logged carries no personal data.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseConfigError("the database URL cannot be parsed") from None
    if parsed.drivername == SQLITE_DRIVER:
        engine = _sqlite_engine(parsed)
    elif parsed.drivername == POSTGRES_DRIVER:
        engine = create_async_engine(parsed, pool_pre_ping=True, hide_parameters=True,
                                     pool_size=POSTGRES_POOL_SIZE)
    else:
        raise DatabaseConfigError(
            f"unsupported database driver {parsed.drivername!r}; pass the URL through "
            "database_url() first")
    try:
        async with engine.connect() as conn:
            await _create_tables(conn)
    except BaseException:
        await engine.dispose()
        raise
    return engine


async def open_database(raw: str | None, data_dir: Path) -> AsyncEngine:
    """``open_engine`` for the configured URL (``DATABASE_URL``; unset: SQLite in
    ``data_dir``), as every command and the server open it."""
    return await open_engine(database_url(raw, data_dir))


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _sqlite_engine(url: URL) -> AsyncEngine:
    if not _is_memory(url) and url.database and not url.database.startswith("file:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL needs a lock another process may hold.
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    return engine


async def _create_tables(conn: AsyncConnection) -> None:
    """``metadata.create_all`` under a lock, so that concurrent starts do not race.

    Without it two processes can both see a table missing and both create it, and the
    second fails. SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock (the sqlite3
    driver then issues no BEGIN of its own). PostgreSQL: a transaction-scoped advisory lock.
    """
    if conn.dialect.name == "sqlite":
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                           {"key": _SCHEMA_LOCK_KEY})
    await conn.run_sync(metadata.create_all)
    await conn.commit()


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that writes: committed on success, rolled back on error.

    On SQLite it starts with ``BEGIN IMMEDIATE``, taking the write lock before the first
    read, so a read-then-write (claim a contact, count calls in flight) cannot interleave
    with another process's; SQLite has no row locks, so the whole database is the lock.
    On PostgreSQL it is an ordinary transaction; callers lock rows with FOR UPDATE.
    """
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            await conn.begin()
        try:
            yield conn
        except BaseException:
            await conn.rollback()
            raise
        await conn.commit()


# --- Values that behave the same on both engines ---------------------------------------------

def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both engines (naive datetimes are refused).

    PostgreSQL keeps it as ``timestamptz``; SQLite has no time zones, so the UTC value is
    stored without one and read back as UTC (its fixed text format keeps ORDER BY correct).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_text(kind: str, value: str) -> None:
    """Refuse what PostgreSQL's text cannot hold (NUL) and what is not UTF-8 (a lone
    surrogate, which ``json.loads`` makes of ``"\\ud800"``), before a driver fails on it
    with an error that quotes the value. Raises ValueError naming ``kind``, not the value."""
    if "\x00" in value:
        raise ValueError(f"{kind} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{kind} is not valid Unicode (lone surrogate)") from None


def json_value(value: Any, where: str) -> Any:
    """``value`` as plain JSON for a JSON column, checked before it reaches either engine.

    datetime, date and time values become their ``isoformat()`` strings, as they are (an
    aware datetime keeps its offset, a naive one stays naive; ``datetime.fromisoformat``
    reads them back); they come back from the database as strings. Tuples become lists.
    Keys must be strings; NaN and infinities, which PostgreSQL's json refuses, raise
    ValueError; other types raise TypeError. Errors say where (``where``, then the key
    path), never the value.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: NaN and infinity cannot be stored")
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: keys must be strings, not {type(key).__name__}")
            out[key] = json_value(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [json_value(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise TypeError(f"{where}: {type(value).__name__} cannot be stored as JSON")

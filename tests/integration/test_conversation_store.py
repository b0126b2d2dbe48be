"""The conversation store on SQLite and PostgreSQL (the ``database_url`` fixture runs each
test on both; PostgreSQL being down fails the run)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import conversation_store, db
from app.conversation_store import (
    ConversationNotFoundError,
    ConversationStore,
    DuplicateClientMessageError,
    TurnRecord,
    conversations,
)
from app.db import DatabaseConfigError, open_engine
from tests.conftest import ROOT


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = await open_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def store(engine: AsyncEngine) -> ConversationStore:
    return ConversationStore(engine)


def _utc_now_ish(value: datetime) -> bool:
    return value.utcoffset() == timedelta(0) and \
        abs(datetime.now(UTC) - value) < timedelta(minutes=1)


# --- database_url ---------------------------------------------------------------------------

def test_unset_url_is_sqlite_in_the_data_folder(tmp_path: Path) -> None:
    expected = f"sqlite+aiosqlite:///{tmp_path.resolve()}/ava.db"
    assert db.database_url(None, tmp_path) == expected
    assert db.database_url("  ", tmp_path) == expected  # an empty environment variable


@pytest.mark.parametrize(("raw", "expected"), [
    ("postgresql://ava:pw@db.local:5433/ava", "postgresql+asyncpg://ava:pw@db.local:5433/ava"),
    ("postgres://ava@db.local/ava", "postgresql+asyncpg://ava@db.local/ava"),
    ("PostgreSQL://ava@db.local/ava", "postgresql+asyncpg://ava@db.local/ava"),
    ("postgres://ava:pw@db/ava?sslmode=require", "postgresql+asyncpg://ava:pw@db/ava?ssl=require"),
    ("postgresql+asyncpg://ava@db/ava?ssl=require", "postgresql+asyncpg://ava@db/ava?ssl=require"),
    ("sqlite+aiosqlite:////var/lib/ava/ava.db", "sqlite+aiosqlite:////var/lib/ava/ava.db"),
    ("sqlite+aiosqlite:///relative.db", "sqlite+aiosqlite:///relative.db"),
    ("SQLite+AioSQLite:///x.db", "sqlite+aiosqlite:///x.db"),
])
def test_url_conversions(raw: str, expected: str, tmp_path: Path) -> None:
    assert db.database_url(raw, tmp_path) == expected


@pytest.mark.parametrize("raw", [
    "mysql://root:s3cret@db/ava", "sqlite:///ava.db", "postgresql+psycopg2://u:s3cret@db/ava",
    "ava.db", "http://example.com", "s3cret",
])
def test_unsupported_url_is_refused_without_echoing_it(raw: str, tmp_path: Path) -> None:
    with pytest.raises(DatabaseConfigError) as caught:
        db.database_url(raw, tmp_path)
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert "s3cret" not in message
    assert "postgresql://" in message and "sqlite+aiosqlite:///" in message


async def test_open_engine_refuses_a_url_not_converted(tmp_path: Path) -> None:
    with pytest.raises(DatabaseConfigError):
        await open_engine(f"sqlite:///{tmp_path / 'ava.db'}")


# --- engine ---------------------------------------------------------------------------------

async def test_sqlite_engine_settings_and_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "ava.db"
    engine = await open_engine(db.database_url(f"sqlite+aiosqlite:///{path}", tmp_path))
    try:
        assert path.exists()
        async with engine.connect() as conn:
            pragma = {name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                      for name in ("journal_mode", "foreign_keys", "busy_timeout")}
        assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 15000}
    finally:
        await engine.dispose()


async def test_engines_opened_at_once_share_one_schema(database_url: str) -> None:
    """Two servers starting together: both create the tables without tripping on each other."""
    first, second = await asyncio.gather(open_engine(database_url), open_engine(database_url))
    try:
        created = await ConversationStore(first).create("org", "agent", "web")
        assert (await ConversationStore(second).get(created.id)) == created
    finally:
        await first.dispose()
        await second.dispose()


# --- conversations and turns ----------------------------------------------------------------

async def test_create_and_get(store: ConversationStore) -> None:
    created = await store.create("riverside-clinic", "appointment_confirmation", "web")
    assert len(created.id) == 32 and int(created.id, 16) >= 0
    assert (created.status, created.outcome, created.slots, created.turns) == (
        "active", None, {}, ())
    assert created.ended_at is None and _utc_now_ish(created.created_at)
    assert await store.get(created.id) == created
    assert await store.get("0" * 32) is None


async def test_turns_get_consecutive_seqs_in_order(store: ConversationStore) -> None:
    conv = await store.create("org", "agent", "web")
    first = await store.append_turn(conv.id, "agent", "Hello, this is the clinic.", act="greet")
    second = await store.append_turn(conv.id, "caller", "Hi [date]", client_message_id="c1")
    third = await store.append_turn(conv.id, "agent", "Thanks.")
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert (second.role, second.text, second.act, second.client_message_id) == (
        "caller", "Hi [date]", None, "c1")
    assert _utc_now_ish(second.created_at)
    stored = await store.get(conv.id)
    assert stored is not None and stored.turns == (first, second, third)
    assert await store.turn_after(conv.id, 2) == third
    assert await store.turn_after(conv.id, 3) is None
    assert await store.turn_for_client_message(conv.id, "c1") == second
    assert await store.turn_for_client_message(conv.id, "c2") is None
    # Seqs are per conversation.
    other = await store.create("org", "agent", "web")
    assert (await store.append_turn(other.id, "agent", "Hello")).seq == 1


async def test_append_refuses_bad_input(store: ConversationStore) -> None:
    conv = await store.create("org", "agent", "web")
    with pytest.raises(ConversationNotFoundError):
        await store.append_turn("f" * 32, "caller", "hello")
    with pytest.raises(ValueError, match="role"):
        await store.append_turn(conv.id, "system", "hello")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="client_message_id"):
        await store.append_turn(conv.id, "caller", "hello", client_message_id="x" * 129)
    with pytest.raises(ValueError, match="organization"):
        await store.create("", "agent", "web")
    stored = await store.get(conv.id)
    assert stored is not None and stored.turns == ()


@pytest.mark.parametrize("text", ["Jane \x00 Doe", "Jane \ud800 Doe"])
async def test_text_a_database_would_choke_on_is_refused_alike(
        store: ConversationStore, text: str) -> None:
    """PostgreSQL cannot store NUL, neither engine can encode a lone surrogate (which
    json.loads makes of a widget's "\\ud800"); both must refuse the same way, without
    quoting the text."""
    conv = await store.create("org", "agent", "web")
    with pytest.raises(ValueError, match=r"^text ") as caught:
        await store.append_turn(conv.id, "caller", text)
    assert "Jane" not in str(caught.value)
    with pytest.raises(ValueError):
        await store.append_turn(conv.id, "caller", "fine", client_message_id=text)
    assert (await store.append_turn(conv.id, "caller", "fine")).seq == 1


@pytest.mark.parametrize("bad_id", ["", "x" * 32, "A" * 32, "0" * 31 + "\x00", "../etc", "\ud800"],
                         ids=["empty", "not-hex", "upper-hex", "nul", "path", "surrogate"])
async def test_ids_that_cannot_exist_find_nothing(store: ConversationStore,
                                                  bad_id: str) -> None:
    conv = await store.create("org", "agent", "web")
    await store.append_turn(conv.id, "caller", "hi", client_message_id="c1")
    assert await store.get(bad_id) is None
    assert await store.turn_after(bad_id, 0) is None
    assert await store.turn_for_client_message(bad_id, "c1") is None
    assert await store.turn_for_client_message(conv.id, bad_id) is None
    assert await store.list(bad_id) == []
    with pytest.raises(ConversationNotFoundError):
        await store.append_turn(bad_id, "caller", "hello")
    with pytest.raises(ConversationNotFoundError):
        await store.update_state(bad_id, outcome=None, slots={}, ended=True)


async def test_database_errors_do_not_quote_values(engine: AsyncEngine) -> None:
    """Errors that reach a log carry no caller data: statement parameters are hidden."""
    row = {"id": "a" * 32, "organization": "Jane Doe 1970-01-01", "agent": "agent",
           "channel": "web", "status": "active", "slots": {}, "created_at": datetime.now(UTC)}
    async with engine.begin() as conn:
        await conn.execute(conversations.insert().values(**row))
    with pytest.raises(IntegrityError) as caught:
        async with engine.begin() as conn:
            await conn.execute(conversations.insert().values(**row))
    assert "Jane" not in str(caught.value) and "hidden" in str(caught.value)


async def test_concurrent_appends_get_distinct_consecutive_seqs(
        store: ConversationStore) -> None:
    conv = await store.create("org", "agent", "web")
    results = await asyncio.gather(*(
        store.append_turn(conv.id, "caller", f"message {n}", client_message_id=f"m{n}")
        for n in range(20)))
    assert sorted(turn.seq for turn in results) == list(range(1, 21))
    stored = await store.get(conv.id)
    assert stored is not None
    assert [turn.seq for turn in stored.turns] == list(range(1, 21))
    assert {turn.client_message_id: turn.seq for turn in stored.turns} == {
        turn.client_message_id: turn.seq for turn in results}


async def test_seq_clashes_are_retried(store: ConversationStore,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The safety net behind the row lock: with the lock gone, concurrent appends on
    PostgreSQL compute the same max(seq) + 1, clash on the primary key and retry."""
    async def exists_only(conn: AsyncConnection, conversation_id: str) -> None:
        query = select(conversations.c.id).where(conversations.c.id == conversation_id)
        assert (await conn.execute(query)).first() is not None

    monkeypatch.setattr(conversation_store, "_lock_conversation", exists_only)
    conv = await store.create("org", "agent", "web")
    results = await asyncio.gather(*(store.append_turn(conv.id, "agent", f"reply {n}")
                                     for n in range(20)))
    assert sorted(turn.seq for turn in results) == list(range(1, 21))


_OTHER_PROCESS = """
import asyncio, sys
from app.conversation_store import ConversationStore
from app.db import open_engine

async def main(url: str, conversation_id: str) -> None:
    engine = await open_engine(url)
    store = ConversationStore(engine)
    print("ready", flush=True)
    sys.stdin.readline()
    await asyncio.gather(*(store.append_turn(conversation_id, "agent", f"other {n}")
                           for n in range(10)))
    await engine.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_two_processes_append_to_one_conversation(
        database_url: str, store: ConversationStore) -> None:
    """Another process (own engine, own connections) writes to the same database file or
    server at the same moment as this one."""
    conv = await store.create("org", "agent", "web")
    other = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _OTHER_PROCESS, database_url, conv.id, cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert other.stdin is not None and other.stdout is not None
    try:
        assert await asyncio.wait_for(other.stdout.readline(), 60) == b"ready\n"
        other.stdin.write(b"go\n")
        await other.stdin.drain()
        await asyncio.gather(*(store.append_turn(conv.id, "caller", f"this {n}")
                               for n in range(10)))
        _, stderr = await asyncio.wait_for(other.communicate(), 60)
    finally:
        if other.returncode is None:
            other.kill()
            await other.wait()
    assert other.returncode == 0, stderr.decode()
    stored = await store.get(conv.id)
    assert stored is not None
    assert [turn.seq for turn in stored.turns] == list(range(1, 21))
    assert sorted(turn.text for turn in stored.turns) == sorted(
        [f"this {n}" for n in range(10)] + [f"other {n}" for n in range(10)])


async def test_duplicate_client_message_is_refused_with_the_stored_turn(
        store: ConversationStore) -> None:
    conv = await store.create("org", "agent", "web")
    first = await store.append_turn(conv.id, "caller", "yes", client_message_id="abc")
    with pytest.raises(DuplicateClientMessageError) as caught:
        await store.append_turn(conv.id, "caller", "yes again", client_message_id="abc")
    assert caught.value.turn == first
    # The same id in another conversation is a different message; agent turns carry none.
    other = await store.create("org", "agent", "web")
    assert (await store.append_turn(other.id, "caller", "yes", client_message_id="abc")).seq == 1
    assert (await store.append_turn(conv.id, "agent", "Noted.")).seq == 2
    assert (await store.append_turn(conv.id, "agent", "Bye.")).seq == 3


async def test_concurrent_resends_store_one_turn(store: ConversationStore) -> None:
    """A reconnecting widget re-sends while the first send is still being stored."""
    conv = await store.create("org", "agent", "web")
    outcomes = await asyncio.gather(*(
        store.append_turn(conv.id, "caller", "confirm", client_message_id="same")
        for _ in range(10)), return_exceptions=True)
    stored = [result for result in outcomes if isinstance(result, TurnRecord)]
    refused = [result for result in outcomes if isinstance(result, DuplicateClientMessageError)]
    assert len(stored) == 1 and len(refused) == 9, outcomes
    assert all(error.turn == stored[0] for error in refused)
    assert (await store.append_turn(conv.id, "agent", "Confirmed.")).seq == 2


# --- state ----------------------------------------------------------------------------------

async def test_update_state_and_ended_at_set_once(store: ConversationStore) -> None:
    conv = await store.create("org", "agent", "web")
    await store.update_state(conv.id, outcome=None, slots={"step": "verify"}, ended=False)
    middle = await store.get(conv.id)
    assert middle is not None
    assert (middle.status, middle.outcome, middle.slots, middle.ended_at) == (
        "active", None, {"step": "verify"}, None)

    await store.update_state(conv.id, outcome="confirmed", slots={"step": "done"}, ended=True)
    ended = await store.get(conv.id)
    assert ended is not None and ended.ended_at is not None
    assert (ended.status, ended.outcome, ended.slots) == ("ended", "confirmed", {"step": "done"})
    assert _utc_now_ish(ended.ended_at) and ended.ended_at >= ended.created_at

    await asyncio.sleep(0.01)
    await store.update_state(conv.id, outcome="rescheduled", slots={}, ended=True)
    await store.update_state(conv.id, outcome="rescheduled", slots={}, ended=False)
    again = await store.get(conv.id)
    assert again is not None
    assert (again.status, again.outcome, again.slots) == ("ended", "rescheduled", {})
    assert again.ended_at == ended.ended_at

    with pytest.raises(ConversationNotFoundError):
        await store.update_state("f" * 32, outcome=None, slots={}, ended=True)


async def test_slots_round_trip_as_json(store: ConversationStore) -> None:
    conv = await store.create("org", "agent", "web")
    plus_two = timezone(timedelta(hours=2))
    slots: dict[str, Any] = {
        "verified": True, "attempts": 2, "premium": 412.5, "nothing": None,
        "reason": "Zoë moved — 東京", "nested": {"list": [1, "two", None, {"deep": False}]},
        "pair": (1, 2),
        "appointment": datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
        "local": datetime(2025, 3, 1, 9, 30, tzinfo=plus_two),
        "naive": datetime(2025, 3, 1, 9, 30, 15, 250000),
        "day": date(2025, 3, 1), "at": time(14, 5),
    }
    await store.update_state(conv.id, outcome=None, slots=slots, ended=False)
    stored = await store.get(conv.id)
    assert stored is not None
    assert stored.slots == {
        "verified": True, "attempts": 2, "premium": 412.5, "nothing": None,
        "reason": "Zoë moved — 東京", "nested": {"list": [1, "two", None, {"deep": False}]},
        "pair": [1, 2],
        "appointment": "2025-03-01T09:30:00+00:00",
        "local": "2025-03-01T09:30:00+02:00",
        "naive": "2025-03-01T09:30:15.250000",
        "day": "2025-03-01", "at": "14:05:00",
    }
    assert datetime.fromisoformat(stored.slots["local"]) == slots["local"]
    listed = await store.list()
    assert listed[0].slots == stored.slots


@pytest.mark.parametrize(("slots", "error", "where"), [
    ({"premium": float("nan")}, ValueError, "slots.premium"),
    ({"nested": [float("inf")]}, ValueError, "slots.nested[0]"),
    ({"dob": {1: "x"}}, TypeError, "slots.dob"),
    ({"card": {"4111111111111111"}}, TypeError, "slots.card"),
    ({"amount": object()}, TypeError, "slots.amount"),
])
async def test_slots_that_are_not_json_are_refused(
        store: ConversationStore, slots: dict[str, Any], error: type[Exception],
        where: str) -> None:
    conv = await store.create("org", "agent", "web")
    await store.update_state(conv.id, outcome=None, slots={"kept": 1}, ended=False)
    with pytest.raises(error) as caught:
        await store.update_state(conv.id, outcome="x", slots=slots, ended=True)
    assert where in str(caught.value) and "4111" not in str(caught.value)
    stored = await store.get(conv.id)
    assert stored is not None
    assert (stored.status, stored.outcome, stored.slots) == ("active", None, {"kept": 1})


async def test_list_newest_first_without_turns(store: ConversationStore) -> None:
    made = [await store.create(org, "agent", "web")
            for org in ("bank", "clinic", "bank", "bank")]
    await store.append_turn(made[3].id, "agent", "Hello")
    everything = await store.list()
    assert [record.id for record in everything] == [record.id for record in reversed(made)]
    assert all(record.turns == () for record in everything)
    bank = await store.list("bank", limit=2)
    assert [record.id for record in bank] == [made[3].id, made[2].id]
    assert await store.list("nobody") == []
    with pytest.raises(ValueError, match="limit"):
        await store.list(limit=0)


async def test_end_abandoned(store: ConversationStore) -> None:
    silent = await store.create("org", "agent", "web")
    decided = await store.create("org", "agent", "web")
    await store.update_state(decided.id, outcome="confirmed", slots={"a": 1}, ended=False)
    finished = await store.create("org", "agent", "web")
    await store.update_state(finished.id, outcome="cancelled", slots={}, ended=True)
    before = await store.get(finished.id)

    assert await store.end_abandoned() == 2
    after = {record.id: record for record in await store.list()}
    assert (after[silent.id].status, after[silent.id].outcome) == ("ended", "incomplete")
    assert (after[decided.id].status, after[decided.id].outcome) == ("ended", "confirmed")
    assert after[decided.id].slots == {"a": 1}
    assert all(_utc_now_ish(after[cid].ended_at or datetime.min.replace(tzinfo=UTC))
               for cid in (silent.id, decided.id))
    assert before is not None and after[finished.id] == before
    assert await store.end_abandoned() == 0

    another = await store.create("org", "agent", "web")
    assert await store.end_abandoned(outcome="server_restart") == 1
    ended = await store.get(another.id)
    assert ended is not None and ended.outcome == "server_restart"

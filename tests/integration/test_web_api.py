"""The admin API and the widget's WebSocket against the real server (real models), on
SQLite and on PostgreSQL: whole conversations, stored transcripts with outcomes, resuming,
and refusals of bad keys, tokens and origins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from tests.server import RunningServer, running_server

pytestmark = pytest.mark.slow

CONTACT = {"name": "Maria Lopez", "date_of_birth": "1984-03-12", "phone": "+12125550143",
           "timezone": "America/New_York"}


def clinic_context(now: datetime) -> dict[str, Any]:
    day = now.date() + timedelta(days=1)
    start = datetime(day.year, day.month, day.day, 15, 30, tzinfo=now.tzinfo)
    slots = [start + timedelta(days=n, hours=h) for n, h in ((1, -6), (1, -1), (2, 0))]
    return {"appointment": {"provider": "Dr. Patel", "start": start.isoformat(),
                            "location": "the Main Street office",
                            "instructions": "Please bring your insurance card."},
            "open_slots": [slot.isoformat() for slot in slots]}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[RunningServer]:
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_database_url")
    with running_server(tmp_path_factory.mktemp(f"server-{request.param}"), url) as running:
        yield running


async def new_conversation(session: aiohttp.ClientSession, server: RunningServer,
                           **overrides: Any) -> dict[str, Any]:
    now = datetime.now(timezone(timedelta(hours=-5)))
    body = {"organization": "riverside-clinic", "contact": CONTACT,
            "context": clinic_context(now), "now": now.isoformat(), **overrides}
    async with session.post(f"{server.url}/api/v1/conversations", json=body,
                            headers=server.auth) as response:
        assert response.status == 201, await response.text()
        return dict(await response.json())


async def say(session: aiohttp.ClientSession, server: RunningServer, conversation: str,
              text: str, message_id: str | None = None) -> dict[str, Any]:
    body = {"text": text, **({"client_message_id": message_id} if message_id else {})}
    async with session.post(f"{server.url}/api/v1/conversations/{conversation}/messages",
                            json=body, headers=server.auth) as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def test_a_whole_conversation_through_the_api_is_stored_redacted(server):
    async with aiohttp.ClientSession() as session:
        created = await new_conversation(session, server)
        assert "May I speak with Maria Lopez" in created["turns"][0]["text"]
        cid = created["id"]
        await say(session, server, cid, "Yes, speaking.")
        verified = await say(session, server, cid, "March 12th, 1984", "dob")
        assert "Dr. Patel" in verified["reply"]["text"]
        assert verified["caller"]["text"] == "[date]"
        again = await say(session, server, cid, "March 12th, 1984", "dob")  # a retry
        assert again["caller"]["seq"] == verified["caller"]["seq"]
        assert again["reply"] == verified["reply"]
        confirmed = await say(session, server, cid, "Yes, I'll be there.")
        assert confirmed["outcome"] == "confirmed" and not confirmed["ended"]
        done = await say(session, server, cid, "No, that's all.")
        assert done["ended"]
        async with session.get(f"{server.url}/api/v1/conversations/{cid}",
                               headers=server.auth) as response:
            transcript = await response.json()
    assert transcript["status"] == "ended" and transcript["outcome"] == "confirmed"
    roles = [turn["role"] for turn in transcript["turns"]]
    assert roles == ["agent"] + ["caller", "agent"] * 4  # the retried message is stored once
    assert [turn["seq"] for turn in transcript["turns"]] == list(range(1, 10))
    assert "1984" not in json.dumps(transcript)
    async with aiohttp.ClientSession() as session, session.post(
            f"{server.url}/api/v1/conversations/{cid}/messages", json={"text": "hello?"},
            headers=server.auth) as response:
        assert response.status == 409


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic dGVzdA=="}])
async def test_admin_api_refuses_a_missing_or_wrong_key(server, headers):
    async with aiohttp.ClientSession() as session:
        for path in ("/api/v1/organizations", "/api/v1/conversations"):
            async with session.get(server.url + path, headers=headers) as response:
                assert response.status == 401
                assert (await response.json())["error"]["code"] == "unauthorized"


async def test_bad_requests_get_clear_errors(server):
    async with aiohttp.ClientSession(headers=server.auth) as session:
        async with session.post(f"{server.url}/api/v1/conversations", data=b"{not json") as r:
            assert r.status == 400
        body = {"organization": "riverside-clinic", "contact": {"name": "X"}}
        async with session.post(f"{server.url}/api/v1/conversations", json=body) as r:
            assert r.status == 422
            message = (await r.json())["error"]["message"]
            assert "contact.date_of_birth" in message and "appointment.start" in message
        async with session.post(f"{server.url}/api/v1/conversations",
                                json={**body, "organization": "nobody"}) as r:
            assert r.status == 404
        async with session.get(f"{server.url}/api/v1/conversations/does-not-exist") as r:
            assert r.status == 404


async def test_knowledge_passages_are_managed_and_answer_questions(server):
    url = f"{server.url}/api/v1/organizations/riverside-clinic/knowledge"
    passage = "Parking: the Main Street office has free parking behind the building."
    async with aiohttp.ClientSession(headers=server.auth) as session:
        async with session.post(url, json={"passages": [{"text": passage}]}) as r:
            assert r.status == 201 and (await r.json())["added"] == 1
        async with session.get(url) as r:
            passages = (await r.json())["passages"]
        assert [p["text"] for p in passages] == [passage]
        created = await new_conversation(session, server)
        await say(session, server, created["id"], "Yes, speaking.")
        answer = await say(session, server, created["id"], "Is there parking at the office?")
        assert "free parking" in answer["reply"]["text"]
        async with session.delete(f"{url}/{passages[0]['id']}") as r:
            assert r.status == 204
        async with session.delete(f"{url}/{passages[0]['id']}") as r:
            assert r.status == 404


async def test_metrics_count_turns_per_channel_and_agent(server):
    async with aiohttp.ClientSession() as session:
        created = await new_conversation(session, server)
        await say(session, server, created["id"], "Yes, speaking.")
        async with session.get(f"{server.url}/metrics") as response:
            text = await response.text()
    assert 'ava_turns_total{agent="appointment_confirmation",channel="api"}' in text
    assert "ava_reply_latency_seconds_bucket" in text


async def test_openapi_document_lists_every_api_route(server):
    async with aiohttp.ClientSession() as session, session.get(
            f"{server.url}/openapi.json") as response:
        document = await response.json()
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/conversations", "/api/v1/conversations/{id}/messages",
            "/api/v1/widget-tokens"} <= set(document["paths"])


def test_demo_pages_carry_the_widget(server):
    import urllib.request

    index = urllib.request.urlopen(server.url + "/").read().decode()
    assert 'href="/demo/riverside-clinic"' in index
    demo = urllib.request.urlopen(server.url + "/demo/riverside-clinic").read().decode()
    assert "widget.js" in demo and 'data-org="riverside-clinic"' in demo
    assert "Maria Lopez" in demo
    script = urllib.request.urlopen(server.url + "/widget.js")
    assert "javascript" in script.headers["Content-Type"]



async def test_an_inbound_chat_is_routed_to_the_organizations_agent(server):
    async with aiohttp.ClientSession() as session:
        created = await new_conversation(session, server, agent="inbound")
        assert "How can I help you today?" in created["turns"][0]["text"]
        routed = await say(session, server, created["id"],
                           "Hi, I need to reschedule my appointment with Dr. Patel")
        assert "May I speak with Maria Lopez" in routed["reply"]["text"]
        verify = await say(session, server, created["id"], "Yes, that's me.")
        assert "date of birth" in verify["reply"]["text"]
        person = await new_conversation(session, server, agent="inbound")
        transferred = await say(session, server, person["id"],
                                "Can I speak to a real person please?")
        assert transferred["ended"] and transferred["outcome"] == "transferred"

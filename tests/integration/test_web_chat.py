"""The widget's WebSocket against the real server: a chat resumed after a dropped
connection loses and doubles nothing; hostile traffic (garbage, binary, 1 MB frames, a
flood) gets an error or a close code while another conversation carries on; missing,
forged and expired tokens and foreign origins are refused before the upgrade."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.server import RunningServer, running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("chat-server")) as running:
        yield running


async def widget_token(session: aiohttp.ClientSession, server: RunningServer,
                       org: str = "riverside-clinic") -> str:
    url = f"{server.url}/demo/{org}/token?agent=appointment_confirmation"
    async with session.get(url) as response:
        return str((await response.json())["token"])


def connect(session: aiohttp.ClientSession, server: RunningServer, query: str,
            origin: str | None = None) -> Any:
    return session.ws_connect(f"{server.url}/ws/chat?{query}", origin=origin or server.url,
                              timeout=aiohttp.ClientWSTimeout(ws_close=10))


async def reply_to(ws: aiohttp.ClientWebSocketResponse, message_id: str,
                   text: str) -> list[dict[str, Any]]:
    """Send a message; everything the server sends until the agent's turn."""
    await ws.send_json({"type": "message", "id": message_id, "text": text})
    received = []
    while True:
        message = await asyncio.wait_for(ws.receive_json(), 60)
        received.append(message)
        if message["type"] == "turn" and message["turn"]["role"] == "agent":
            return received
        assert message["type"] != "error", message


async def test_a_chat_resumed_after_a_drop_loses_and_doubles_nothing(server):
    async with aiohttp.ClientSession() as session:
        async with connect(session, server, f"token={await widget_token(session, server)}") as ws:
            ready = await ws.receive_json()
            assert ready["type"] == "ready" and len(ready["turns"]) == 1
            got = await reply_to(ws, "m1", "Yes, this is Maria.")
            kinds = [m["type"] for m in got]
            assert kinds[0] == "typing" and "delta" in kinds and "ack" in kinds
            deltas = "".join(m["text"] for m in got if m["type"] == "delta")
            assert deltas == got[-1]["turn"]["text"]
            # The page drops right after sending its next message.
            await ws.send_json({"type": "message", "id": "m2", "text": "3/12/1984"})
        async with connect(session, server, f"session={ready['session']}") as ws:
            resumed = await ws.receive_json()
            texts = [turn["text"] for turn in resumed["turns"]]
            if len(texts) == 3:  # the reply to m2 was still being worked out: re-send it
                got = await reply_to(ws, "m2", "3/12/1984")
                texts += [m["turn"]["text"] for m in got if m["type"] == "turn"]
            else:  # already answered: re-sending the same id changes nothing
                await reply_to(ws, "m2", "3/12/1984")
            got = await reply_to(ws, "m3", "Yes, I'll be there.")
        async with connect(session, server, f"session={ready['session']}") as ws:
            final = await ws.receive_json()
    seqs = [turn["seq"] for turn in final["turns"]]
    assert seqs == list(range(1, 8)), final["turns"]
    assert [turn["role"] for turn in final["turns"]] == ["agent"] + ["caller", "agent"] * 3
    assert final["turns"][3]["text"] == "[date]" and "Dr. Patel" in final["turns"][4]["text"]
    assert "confirmed" in final["turns"][6]["text"]


async def test_refused_connections(server):
    async with aiohttp.ClientSession() as session:
        token = await widget_token(session, server)
        forged = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
        for query, origin, status in [
                ("", None, 401), ("token=garbage", None, 401), (f"token={forged}", None, 401),
                (f"session={token}", None, 401),  # a widget token is not a session token
                (f"token={token}", "https://evil.example", 403),
                (f"token={token}", "null", 403)]:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                async with connect(session, server, query, origin):
                    pass
            assert refused.value.status == status, (query[:20], origin)


async def test_a_widget_token_opens_one_conversation_only(server):
    async with aiohttp.ClientSession() as session:
        token = await widget_token(session, server)
        async with connect(session, server, f"token={token}") as ws:
            assert (await ws.receive_json())["type"] == "ready"
        with pytest.raises(aiohttp.WSServerHandshakeError) as replayed:
            async with connect(session, server, f"token={token}"):
                pass
    assert replayed.value.status == 401


async def test_an_expired_token_is_refused(server):
    from app.tokens import TokenSigner

    key = bytes.fromhex((server.log_path.parent / "ava-agent" / "token-key").read_text())
    expired, _ = TokenSigner(key).issue("widget", "riverside-clinic", ttl_s=-5)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with connect(session, server, f"token={expired}"):
                pass
    assert refused.value.status == 401


async def _close_code_after(session: aiohttp.ClientSession, server: RunningServer,
                            send: Any) -> int | None:
    async with connect(session, server, f"token={await widget_token(session, server)}") as ws:
        await ws.receive_json()
        await send(ws)
        while True:
            message = await asyncio.wait_for(ws.receive(), 30)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                aiohttp.WSMsgType.CLOSING):
                return ws.close_code


async def test_hostile_traffic_is_refused_while_another_chat_carries_on(server):
    async with aiohttp.ClientSession() as session:
        token = await widget_token(session, server)
        async with connect(session, server, f"token={token}") as calm:
            await calm.receive_json()
            garbage = await _garbage_replies(session, server)
            assert garbage == ["bad_request"] * 4
            assert await _close_code_after(
                session, server, lambda ws: ws.send_bytes(b"\x00" * 100)) == 1003
            assert await _close_code_after(
                session, server, lambda ws: ws.send_str("x" * (1 << 20))) == 1009
            codes, close_code = await _flood(session, server)
            assert "rate_limited" in codes and close_code == 1008
            started = time.monotonic()
            got = await reply_to(calm, "calm-1", "Yes, speaking.")
            assert "date of birth" in got[-1]["turn"]["text"]
            assert time.monotonic() - started < 10


async def _garbage_replies(session: aiohttp.ClientSession, server: RunningServer) -> list[str]:
    async with connect(session, server, f"token={await widget_token(session, server)}") as ws:
        await ws.receive_json()
        codes = []
        for frame in ("not json", "[1, 2]", '{"type": "launch"}', '{"type": "message"}'):
            await ws.send_str(frame)
            reply = await asyncio.wait_for(ws.receive_json(), 10)
            codes.append(reply["code"])
        await ws.send_json({"type": "ping"})
        assert (await asyncio.wait_for(ws.receive_json(), 10))["type"] == "pong"
        return codes


async def _flood(session: aiohttp.ClientSession,
                 server: RunningServer) -> tuple[list[str], int | None]:
    """1,000 messages in about a second from one client."""
    async with connect(session, server, f"token={await widget_token(session, server)}") as ws:
        await ws.receive_json()
        for n in range(1000):
            if ws.closed:
                break
            await ws.send_json({"type": "message", "id": f"f{n}", "text": "hello"})
            if n % 50 == 0:
                await asyncio.sleep(0.05)
        codes = []
        while True:
            message = await asyncio.wait_for(ws.receive(), 60)
            if message.type == aiohttp.WSMsgType.TEXT:
                data = message.json()
                if data["type"] == "error":
                    codes.append(data["code"])
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return codes, ws.close_code


async def test_the_inbound_demo_page_opens_a_routed_chat(server):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/demo/riverside-clinic?agent=inbound") as page:
            html = await page.text()
        assert 'data-agent="inbound"' in html
        assert 'data-token-url="/demo/riverside-clinic/token?agent=inbound"' in html
        async with session.get(f"{server.url}/demo/riverside-clinic/token?agent=inbound") as r:
            token = (await r.json())["token"]
        async with connect(session, server, f"token={token}") as ws:
            ready = await ws.receive_json()
            assert "How can I help you today?" in ready["turns"][0]["text"]
            got = await reply_to(ws, "i1", "I'd like to confirm my appointment")
            assert "May I speak with Maria Lopez" in got[-1]["turn"]["text"]
        async with session.get(f"{server.url}/demo/riverside-clinic?agent=nobody") as page:
            assert page.status == 404

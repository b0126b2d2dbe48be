"""A caller who says on an inbound SIP call that they want no more calls is put on the
do-not-call list by number (the From header's), so no campaign dials them again; a caller
whose From is not a number (``sip:caller@``) is not, and nothing fails."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.campaigns.do_not_call import DoNotCallList
from app.db import open_engine
from tests.server import RunningServer, running_server
from tests.sip_peer import (
    Say,
    caller_args,
    caller_packets,
    caller_scenario,
    free_udp_tcp_port,
    rtp_recorder,
    run_sipp,
    sip_conversations,
    sip_server_env,
    sipp_log,
    write_pcap,
)

pytestmark = pytest.mark.slow
SIP_PORT = free_udp_tcp_port()
CALLER = "+12125550143"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sip-opt-out-db') / 'ava.db'}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[RunningServer]:
    env = sip_server_env(SIP_PORT, AVA_VOICE__SILENCE_TIMEOUT_S="4")
    with running_server(tmp_path_factory.mktemp("sip-server"), database, env=env) as running:
        yield running


def listed_numbers(database: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        engine = await open_engine(database)
        try:
            return [(phone, source) for phone, source, _ in
                    await DoNotCallList(engine).entries()]
        finally:
            await engine.dispose()
    return asyncio.run(read())


def call_saying(line: str, from_user: str, tmp_path: Path) -> None:
    tmp_path.mkdir()
    pcap = write_pcap(tmp_path / "caller.pcap",
                      caller_packets([Say(7.0, line)], total_s=10.0))
    with rtp_recorder() as heard:
        scenario = caller_scenario(heard.port, pcap, talk_s=0, agent_hangs_up=True,
                                   bye_wait_s=60)
        scenario = scenario.replace("From: sipp <sip:caller@", f"From: sipp <sip:{from_user}@")
        sipp = run_sipp(scenario, tmp_path, *caller_args(SIP_PORT, "u1"), timeout_s=100)
    assert sipp.returncode == 0, sipp_log(tmp_path)


def test_an_opt_out_on_an_inbound_call_lists_the_callers_number(
        server: RunningServer, database: str, tmp_path: Path) -> None:
    call_saying("Please stop calling me.", CALLER, tmp_path / "first")
    [stored] = sip_conversations(server)
    assert stored["outcome"] == "opted_out", stored["turns"]
    assert listed_numbers(database) == [(CALLER, "opt_out")]
    # A caller with no number in From: the same words, nothing listed, the call still ends.
    call_saying("Please stop calling me.", "caller", tmp_path / "second")
    assert [c["outcome"] for c in sip_conversations(server)] == ["opted_out", "opted_out"]
    assert listed_numbers(database) == [(CALLER, "opt_out")]

"""`python -m app chat --agent NAME --contact contact.json`: a conversation in the terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from app.cmd_call import read_setup
from app.config import Settings
from dialog.events import CallerHungUp, CallerSaid


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("chat", help="talk to an agent in the terminal")
    parser.add_argument("--agent", required=True, help="agent name or package.module:Class")
    parser.add_argument("--contact", required=True, type=Path,
                        help="JSON: contact, context and optionally now (as in a scenario)")
    parser.add_argument("--tracker", choices=("slm", "slm-only", "embedding"), default="slm")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from app.dialogue import load_dialogue
    from dialog.registry import agent_factory

    setup = read_setup(args.contact)
    load_dialogue(settings, tracker=args.tracker)
    agent = agent_factory(args.agent)(setup)
    return asyncio.run(_converse(agent))


async def _converse(agent: object) -> int:
    reply = await agent.start()  # type: ignore[attr-defined]
    print(f"agent> {reply.text}", flush=True)
    while not reply.ends_call:
        print("you> ", end="", flush=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            await agent.handle(CallerHungUp())  # type: ignore[attr-defined]
            break
        reply = await agent.handle(CallerSaid(line.strip()))  # type: ignore[attr-defined]
        print(f"agent> {reply.text}", flush=True)
    state = getattr(agent, "state", None)
    if state is not None:
        slots = json.dumps(state.slots, default=str)
        print(f"[outcome: {state.outcome}; slots: {slots}]", flush=True)
    return 0

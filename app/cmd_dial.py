"""`python -m app dial --agent NAME --contact contact.json --to sip:...`: place one SIP call.

The call goes out from the SIP settings' host (an ephemeral port), through the trunk when
one is configured (``AVA_SIP__TRUNK__REGISTRAR``, ``..._USERNAME``, ``..._PASSWORD``:
REGISTER with digest auth first), else straight to the URI's host. The agent speaks first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cmd_call import read_setup
from app.config import Settings
from app.errors import InputError
from voice.latency import summarize

if TYPE_CHECKING:
    from app.channels.sip_call import PhoneCall
    from voice.latency import Turn


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("dial", help="place one phone call over SIP")
    parser.add_argument("--agent", required=True, help="agent name or package.module:Class")
    parser.add_argument("--contact", required=True, type=Path,
                        help="JSON: contact, context and optionally now (as in a scenario)")
    parser.add_argument("--to", required=True, help="whom to call: sip:user@host[:port]")
    parser.add_argument("--transcript", type=Path, help="JSON file for turns and latency marks")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from app.bridge import DialogueResponder
    from app.channels.sip_dial import DialError
    from app.model_loading import load_speech_models
    from dialog.registry import agent_factory

    if not args.to.lower().startswith(("sip:", "sips:")) or "@" not in args.to:
        raise InputError(f"--to: '{args.to}' is not a SIP URI like sip:user@host:5060")
    setup = read_setup(args.contact)
    if ":" not in args.agent:  # a domain agent: load the dialogue layer that runs it
        from app.dialogue import load_dialogue

        load_dialogue(settings)
    agent = agent_factory(args.agent)(setup)
    models = load_speech_models(settings.voice)
    try:
        call = asyncio.run(_dial(settings, args.to, models, DialogueResponder(agent)))
    except DialError as error:
        print(f"call failed: {error}", file=sys.stderr)
        return 1
    if args.transcript:
        args.transcript.write_text(json.dumps(_transcript(call, args), indent=2) + "\n")
    _print_summary(call)
    return 0


async def _dial(settings: Settings, to: str, models: Any, responder: Any) -> PhoneCall:
    from app.channels.sip_dial import Dialer

    async with Dialer(settings.sip) as dialer:
        return await dialer.call(to, models, settings.voice, responder)


def _transcript(call: PhoneCall, args: argparse.Namespace) -> dict[str, Any]:
    session = call.session
    latencies = [lat for t in session.turns if (lat := t.marks.response_latency) is not None]
    return {
        "agent": args.agent,
        "to": args.to,
        "ended_by": session.ended_by,
        "duration_s": round(session.now(), 3),
        "response_latency_ms": summarize(latencies, unit_scale=1000),
        "rtp": call.media.summary(),
        "turns": [{**turn.to_json(), "caller": _caller_words(turn)} for turn in session.turns],
    }


def _caller_words(turn: Turn) -> str | None:
    """What the caller said; keys are only counted (they are often a date of birth)."""
    if turn.caller_event == "keypad" and turn.caller:
        return f"[keypad: {len(turn.caller)} keys]"
    return turn.caller


def _print_summary(call: PhoneCall) -> None:
    for turn in call.session.turns:
        if turn.caller:
            print(f"caller: {_caller_words(turn)}")
        if turn.agent:
            cut = " [interrupted]" if turn.interrupted else ""
            print(f"agent:  {turn.agent}{cut}")
    print(f"call ended by {call.session.ended_by} after {call.session.now():.1f} s")

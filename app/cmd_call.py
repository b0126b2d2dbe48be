"""`python -m app call`: hold a voice conversation from a WAV file."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.config import Settings
from app.errors import InputError
from dialog.agent import ConversationSetup
from dialog.registry import agent_factory
from voice.codecs import SUPPORTED_RATES, Encoding
from voice.latency import summarize
from voice.wavfile import read_wav, write_wav

if TYPE_CHECKING:
    from app.channels.wav_call import CallResult


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("call", help="hold a voice call from a WAV file")
    parser.add_argument("--agent", required=True, help="agent name or package.module:Class")
    parser.add_argument("--in", dest="input", required=True, type=Path,
                        help="the caller's side: WAV (PCM, float, mu-law or A-law; any rate)")
    parser.add_argument("--out", required=True, type=Path, help="WAV to write the agent's side to")
    parser.add_argument("--transcript", type=Path, help="JSON file for turns and latency marks")
    parser.add_argument("--contact", type=Path, help="JSON file: contact and context for the agent")
    parser.add_argument("--fast", action="store_true",
                        help="do not pace in real time: the caller waits for each reply")
    parser.add_argument("--out-rate", type=int, choices=SUPPORTED_RATES,
                        help="sample rate of --out (default: the input's)")
    parser.add_argument("--out-encoding", choices=[e.value for e in Encoding],
                        help="encoding of --out (default: the input's)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    # The speech stack takes seconds to import; only this command needs it.
    from app.bridge import DialogueResponder
    from app.channels.wav_call import hold_wav_call
    from app.model_loading import load_speech_models

    clip = read_wav(args.input, max_duration_s=settings.max_input_audio_s)
    setup = read_setup(args.contact)
    if ":" not in args.agent:  # a domain agent: load the dialogue layer that runs it
        from app.dialogue import load_dialogue

        load_dialogue(settings)
    agent = agent_factory(args.agent)(setup)
    models = load_speech_models(settings.voice)
    result = asyncio.run(hold_wav_call(clip, DialogueResponder(agent), models, settings.voice,
                                       fast=args.fast, output_rate=args.out_rate))
    encoding = Encoding(args.out_encoding) if args.out_encoding else clip.source.encoding
    write_wav(args.out, result.agent_track, result.sample_rate, encoding)
    if args.transcript:
        args.transcript.write_text(json.dumps(transcript_json(result, args), indent=2) + "\n")
    _print_summary(result)
    return 0


def read_setup(contact_file: Path | None) -> ConversationSetup:
    """The contact and context of a conversation from a JSON file (a scenario's fields)."""
    if contact_file is None:
        return ConversationSetup(contact={}, context={}, now=datetime.now().astimezone())
    try:
        data = json.loads(contact_file.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{contact_file}: not valid JSON ({error.msg}, line "
                         f"{error.lineno})") from None
    if not isinstance(data, dict):
        raise InputError(f"{contact_file}: expected a JSON object")
    if "contact" not in data:  # a bare contact
        data = {"contact": data}
    try:
        now = datetime.fromisoformat(data["now"]) if data.get("now") else \
            datetime.now().astimezone()
    except ValueError:
        raise InputError(f"{contact_file}: now: not an ISO date and time") from None
    if not isinstance(data["contact"], dict) or not isinstance(data.get("context", {}), dict):
        raise InputError(f"{contact_file}: contact and context must be JSON objects")
    return ConversationSetup(contact=data["contact"], context=data.get("context") or {},
                             now=now)


def latency_summary(result: CallResult) -> dict[str, Any]:
    """p50/p95 of caller speech end to first agent audio, in milliseconds."""
    latencies = [lat for t in result.turns if (lat := t.marks.response_latency) is not None]
    return summarize(latencies, unit_scale=1000)


def transcript_json(result: CallResult, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "agent": args.agent,
        "input": str(args.input),
        "mode": "fast" if args.fast else "realtime",
        "ended_by": result.ended_by,
        "duration_s": round(result.duration_s, 3),
        "response_latency_ms": latency_summary(result),
        "turns": [turn.to_json() for turn in result.turns],
    }


def _print_summary(result: CallResult) -> None:
    for turn in result.turns:
        if turn.caller:
            print(f"caller: {turn.caller}")
        if turn.agent:
            latency = turn.marks.response_latency
            suffix = f"  ({latency * 1000:.0f} ms)" if latency is not None else ""
            cut = " [interrupted]" if turn.interrupted else ""
            print(f"agent:  {turn.agent}{cut}{suffix}")
    print(f"call ended by {result.ended_by} after {result.duration_s:.1f} s")

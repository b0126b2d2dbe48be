"""`python -m app eval FILE.jsonl [--voice] [--json OUT]`: play scenarios, say which pass."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from app.config import Settings
from app.errors import InputError
from dialog.scenarios import Conversation, Scenario, failures, load_scenarios, play_text
from voice.latency import summarize


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("eval", help="run conversation scenarios and score them")
    parser.add_argument("files", type=Path, nargs="+", metavar="FILE",
                        help="scenarios, one JSON object a line")
    parser.add_argument("--only", type=lambda text: [i for i in text.split(",") if i],
                        help="comma-separated scenario ids: play only these")
    parser.add_argument("--voice", action="store_true",
                        help="speak every caller line (espeak-ng, 8 kHz mu-law) into the "
                             "real voice session, so recognition errors count")
    parser.add_argument("--json", type=Path, help="write every result to this file")
    parser.add_argument("--tracker", choices=("slm", "slm-only", "embedding"), default="slm",
                        help="state tracker: the SLM (default) or the non-SLM baseline")
    parser.set_defaults(handler=run)


@dataclass
class ScenarioResult:
    id: str
    passed: bool
    problems: list[str]
    outcome: str | None
    agent_lines: list[str]
    caller_heard: list[str]
    turn_ms: list[float]


class _ScenarioKnowledge:
    """A scenario's own passages first, then the organization's knowledge base."""

    def __init__(self, store: Any, scenario: Scenario, fallback: Any) -> None:
        self._store, self._key, self._fallback = store, f"scenario {scenario.id}", fallback
        if scenario.knowledge:
            from knowledge.store import Passage

            store.ingest(self._key, [Passage(text, "scenario") for text in scenario.knowledge])
        self._has_own = bool(scenario.knowledge)

    def answer(self, organization: str, question: str, context: str = "") -> str | None:
        own = self._store.answer(self._key, question, context) if self._has_own else None
        return own or self._fallback.answer(organization, question, context)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from app.dialogue import load_dialogue
    from knowledge.store import KnowledgeBase

    scenarios = _selected(args)
    stack = load_dialogue(settings, tracker=args.tracker)
    scratch = KnowledgeBase(stack.knowledge._embedder)  # in memory, per run
    player = _voice_player(settings) if args.voice else None
    results = []
    for scenario in scenarios:
        knowledge = _ScenarioKnowledge(scratch, scenario, stack.knowledge)
        played = asyncio.run(_play(scenario, replace(stack.services, knowledge=knowledge),
                                   player))
        problems = failures(scenario, played)
        results.append(ScenarioResult(scenario.id, not problems, problems, played.outcome,
                                      played.agent_lines, played.caller_heard,
                                      [round(s * 1000, 1) for s in played.turn_seconds]))
        verdict = "PASS" if not problems else "FAIL"
        print(f"{verdict} {scenario.id}" + (f": {'; '.join(problems)}" if problems else ""),
              flush=True)
    return _report(results, args)


def _selected(args: argparse.Namespace) -> list[Scenario]:
    scenarios = [s for path in args.files for s in load_scenarios(path)]
    if args.only:
        missing = sorted(set(args.only) - {s.id for s in scenarios})
        if missing:
            raise InputError(f"no scenario with id {', '.join(missing)}")
        scenarios = [s for s in scenarios if s.id in args.only]
    if not scenarios:
        raise InputError("no scenarios to play")
    return scenarios


async def _play(scenario: Scenario, services: Any, player: Any) -> Conversation:
    from dialog.agent import ConversationAgent
    from dialog.catalog import common_lines, load_flows
    from dialog.engine import FlowAgent
    from dialog.registry import agent_factory

    flows = load_flows()
    setup = replace(scenario.setup, keypad=player is not None)  # voice: over a phone line
    agent: ConversationAgent
    if scenario.agent in flows:
        agent = FlowAgent(setup, flows[scenario.agent], common_lines(), services)
    else:
        agent = agent_factory(scenario.agent)(setup)
    if player is not None:
        return await player(scenario, agent)
    return await play_text(scenario, agent)


def _voice_player(settings: Settings) -> Any:
    from app.voice_scenarios import VoicePlayer

    return VoicePlayer(settings)


def _report(results: list[ScenarioResult], args: argparse.Namespace) -> int:
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    latency = summarize([ms for r in results for ms in r.turn_ms])
    print(f"success rate: {passed / len(results):.1%}")
    print(f"turn latency: p50 {latency.get('p50', 0):.0f} ms, p95 {latency.get('p95', 0):.0f} ms"
          + (" (caller speech end to first agent audio)" if args.voice else ""))
    if args.json:
        args.json.write_text(json.dumps({
            "files": [str(path) for path in args.files], "mode": "voice" if args.voice else "text",
            "passed": passed, "failed": failed, "success_rate": passed / len(results),
            "turn_latency_ms": latency, "scenarios": [asdict(r) for r in results],
        }, indent=2) + "\n")
    sys.stdout.flush()
    return 0 if failed == 0 else 1

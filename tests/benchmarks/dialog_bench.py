"""Dialogue benchmark: text turn latency over the scenarios, and state-tracking accuracy on
hand-labelled caller turns, all in the same run: the agents' tracker (fine-tuned SLM, MiniLM
prior, yes/no parser), the SLM alone, the best non-SLM baseline (MiniLM nearest examples with
the same parser), MiniLM alone, and the SLM before fine-tuning."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.config import Settings
from app.dialogue import load_dialogue, load_tracker
from app.model_loading import load_embeddings, prepared_slm
from dialog.catalog import common_lines, load_flows
from dialog.engine import FlowAgent
from dialog.polarity import PolarityAssist
from dialog.scenarios import failures, load_scenarios, play_text
from dialog.tracker import IntentTracker, SlmTracker
from dialog.tracker_eval import load_requests, score
from knowledge.store import KnowledgeBase, Passage
from voice.latency import summarize

ROOT = Path(__file__).resolve().parents[2]
TURNS = ROOT / "tests" / "data" / "tracking_turns.jsonl"
SCENARIOS = sorted((ROOT / "tests" / "scenarios").glob("*.jsonl"))


class _Scratch:
    def __init__(self, store: KnowledgeBase, key: str, texts: list[str]) -> None:
        self.store, self.key = store, key
        store.ingest(key, [Passage(t, "scenario") for t in texts])

    def answer(self, organization: str, question: str, context: str = "") -> str | None:
        return self.store.answer(self.key, question, context)


def _scenario_run(settings: Settings) -> dict[str, Any]:
    stack = load_dialogue(settings)
    scratch = KnowledgeBase(load_embeddings())
    flows, lines = load_flows(), common_lines()
    seconds, passed, total = [], 0, 0
    for path in SCENARIOS:
        for scenario in load_scenarios(path):
            services = replace(stack.services, knowledge=_Scratch(
                scratch, f"bench {scenario.id}", scenario.knowledge))
            agent = FlowAgent(scenario.setup, flows[scenario.agent], lines, services)
            played = asyncio.run(play_text(scenario, agent))
            seconds += played.turn_seconds
            passed += not failures(scenario, played)
            total += 1
    return {"scenarios": total, "passed": passed,
            "text_turn_latency_ms": summarize(seconds, unit_scale=1000)}


def trackers(settings: Settings) -> dict[str, Callable[[], IntentTracker]]:
    """The trackers compared: the agents' own, its parts, and the baselines."""
    return {
        "agents_tracker": lambda: load_tracker(settings, "slm"),
        "slm_fine_tuned": lambda: load_tracker(settings, "slm-only"),
        "non_slm_baseline": lambda: PolarityAssist(load_tracker(settings, "embedding")),
        "embedding_only": lambda: load_tracker(settings, "embedding"),
        "slm_before_fine_tuning": lambda: SlmTracker(prepared_slm(settings.cache_dir).ct2_dir),
    }


def run(settings: Settings, report: Callable[[str], None]) -> dict[str, Any]:
    flows, lines = load_flows(), common_lines()
    requests = load_requests(TURNS, flows, lines)
    accuracy: dict[str, Any] = {"turns": len(requests)}
    for name, make in trackers(settings).items():
        report(f"state tracking: {name}")
        result = score(make(), requests)
        accuracy[name] = {"accuracy": round(result.accuracy, 4),
                          "ms_per_turn_p50": result.ms_per_request_p50,
                          "mistakes": [list(m) for m in result.mistakes[:15]]}
    accuracy["slm_gain_over_baseline_points"] = round(
        100 * (accuracy["agents_tracker"]["accuracy"] - accuracy["non_slm_baseline"]["accuracy"]),
        1)
    report("scenarios in text mode")
    return {"state_tracking": accuracy, "text_mode": _scenario_run(settings)}

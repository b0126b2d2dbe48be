"""Accuracy of a tracker on labelled caller turns (a JSON-lines file: context, utterance,
label), the same requests the dialogue manager would make."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dialog.flow_spec import Flow, Lines
from dialog.tracker import IntentTracker, TrackRequest
from dialog.tracker_data import _fake_fields, contexts
from dialog.turn_reading import GLOBAL_LABELS


@dataclass(frozen=True)
class TrackingScore:
    accuracy: float
    turns: int
    ms_per_request_p50: float
    mistakes: list[tuple[str, str, str, str]]  # context, utterance, expected, predicted


def load_requests(path: Path, flows: Mapping[str, Flow],
                  lines: Lines) -> list[tuple[str, TrackRequest, str]]:
    known = {c.name: c for c in contexts(flows, lines)}
    rng = random.Random(11)
    requests = []
    for number, row in enumerate(path.read_text().splitlines(), start=1):
        if not row.strip():
            continue
        item = json.loads(row)
        context = known.get(item["context"])
        if context is None:
            raise ValueError(f"{path}:{number}: unknown context '{item['context']}'")
        labels = tuple(context.examples) + (GLOBAL_LABELS if context.with_globals else ())
        question = context.questions[0].format(**_fake_fields(rng))
        request = TrackRequest(question, item["utterance"], labels, context.name)
        requests.append((context.name, request, item["label"]))
    return requests


def score(tracker: IntentTracker, requests: list[tuple[str, TrackRequest, str]]) -> TrackingScore:
    right, timings, mistakes = 0, [], []
    for context, request, expected in requests:
        started = time.perf_counter()
        prediction = tracker.predict([request])[0]
        timings.append(time.perf_counter() - started)
        if prediction.label == expected:
            right += 1
        else:
            mistakes.append((context, request.utterance, expected, prediction.label))
    timings.sort()
    return TrackingScore(right / len(requests), len(requests),
                         round(timings[len(timings) // 2] * 1000, 1), mistakes)

"""How good a router is on a labelled set: accuracy, macro-F1, the label pairs it confuses,
what it decides at its threshold, and how long one request takes.

Rows whose label the router was never trained on cannot be right or wrong: they are left
out of accuracy and reported apart, with how many of them the router would not have routed
(clarify or human), which is what should happen to a request nobody trained it for.
Latency is measured the way requests arrive: one text at a time, tokenizer included.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from dialog.router import CLARIFY, HUMAN, ROUTE, Router
from dialog.router_data import Example, RouterDataError

LATENCY_SAMPLES = 300


@dataclass
class Evaluation:
    examples: int
    labels: int
    accuracy: float
    macro_f1: float
    confused: list[tuple[str, str, int]]
    decisions: dict[str, float]
    routed_accuracy: float | None
    latency_ms: dict[str, float]
    unknown: dict[str, int] = field(default_factory=dict)
    unknown_not_routed: int = 0


def evaluate(router: Router, examples: Sequence[Example], threshold: float | None = None,
             latency_samples: int = LATENCY_SAMPLES,
             progress: Callable[[int], None] | None = None) -> Evaluation:
    known = set(router.labels)
    scored = [e for e in examples if e.label in known]
    unknown = [e for e in examples if e.label not in known]
    if not scored:
        raise RouterDataError(
            f"none of the {len(examples)} rows has a label this router knows "
            f"(its labels: {', '.join(router.labels[:12])}{', ...' if len(known) > 12 else ''})")
    texts = [e.text for e in examples]
    probs = router.probabilities(texts)
    progress and progress(len(texts))
    routings = [router.decide(row, threshold) for row in probs]
    truth = [e.label for e in examples]
    pairs = [(t, r.label) for t, r in zip(truth, routings, strict=True) if t in known]
    decisions = Counter(r.decision for r in routings)
    routed = [t == r.label for t, r in zip(truth, routings, strict=True)
              if t in known and r.decision == ROUTE]
    return Evaluation(
        examples=len(examples), labels=len({t for t, _ in pairs}),
        accuracy=float(np.mean([t == p for t, p in pairs])),
        macro_f1=macro_f1(pairs), confused=confused_pairs(pairs),
        decisions={d: decisions[d] / len(routings) for d in (ROUTE, CLARIFY, HUMAN)},
        routed_accuracy=float(np.mean(routed)) if routed else None,
        latency_ms=latency(router, texts, latency_samples),
        unknown=dict(Counter(e.label for e in unknown).most_common()),
        unknown_not_routed=sum(r.decision != ROUTE for e, r in zip(examples, routings,
                                                                    strict=True)
                               if e.label not in known))


def macro_f1(pairs: Sequence[tuple[str, str]]) -> float:
    """Unweighted mean F1 over the true labels present."""
    scores = []
    for label in sorted({t for t, _ in pairs}):
        hits = sum(t == label and p == label for t, p in pairs)
        predicted = sum(p == label for _, p in pairs)
        actual = sum(t == label for t, _ in pairs)
        scores.append(2 * hits / (predicted + actual) if predicted + actual else 0.0)
    return float(np.mean(scores))


def confused_pairs(pairs: Sequence[tuple[str, str]], top: int = 10) -> list[tuple[str, str, int]]:
    """The label pairs mistaken for each other most often, in either direction."""
    counts: Counter[tuple[str, str]] = Counter()
    for truth, predicted in pairs:
        if truth != predicted:
            a, b = sorted((truth, predicted))
            counts[(a, b)] += 1
    return [(a, b, n) for (a, b), n in counts.most_common(top)]


def latency(router: Router, texts: Sequence[str], samples: int) -> dict[str, float]:
    """p50/p95 milliseconds to route one request, over texts spread through the set."""
    step = max(1, len(texts) // max(1, samples))
    chosen = list(texts[::step])[:samples]
    router.route(chosen[0])  # warm-up: first-call allocations are not a request's cost
    times = []
    for text in chosen:
        started = time.perf_counter()
        router.route(text)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50": round(float(np.percentile(times, 50)), 2),
            "p95": round(float(np.percentile(times, 95)), 2),
            "queries": len(times)}

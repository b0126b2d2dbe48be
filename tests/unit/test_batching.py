"""Tracking requests from concurrent conversations share batches, and each caller gets
its own predictions back, in order."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from dialog.batching import BatchingTracker
from dialog.tracker import Prediction, TrackRequest


class SlowEcho:
    """A tracker that answers each request with its own text as the label, slowly."""

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []
        self.fail_on: str | None = None

    def predict(self, requests: Sequence[TrackRequest]) -> list[Prediction]:
        self.batch_sizes.append(len(requests))
        time.sleep(0.05)
        if any(r.utterance == self.fail_on for r in requests):
            raise RuntimeError("model failed")
        return [Prediction(r.utterance, 1.0, {r.utterance: 1.0}) for r in requests]


def request(text: str) -> TrackRequest:
    return TrackRequest(question="Will you make it?", utterance=text, labels=("yes", "no"))


async def test_concurrent_requests_share_batches_and_get_their_own_answers():
    inner = SlowEcho()
    tracker = BatchingTracker(inner, max_batch=32)
    groups = [[request(f"c{n}-a"), request(f"c{n}-b")] for n in range(12)]
    results = await asyncio.gather(*(tracker.predict_async(g) for g in groups))
    for group, predictions in zip(groups, results, strict=True):
        assert [p.label for p in predictions] == [r.utterance for r in group]
    assert sum(inner.batch_sizes) == 24 and len(inner.batch_sizes) < 12


def test_a_batch_never_exceeds_its_limit_and_threads_get_answers():
    inner = SlowEcho()
    tracker = BatchingTracker(inner, max_batch=4)
    answers: dict[int, list[str]] = {}

    def ask(n: int) -> None:
        answers[n] = [p.label for p in tracker.predict([request(f"t{n}"), request(f"u{n}")])]

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert answers == {n: [f"t{n}", f"u{n}"] for n in range(8)}
    assert max(inner.batch_sizes) <= 4


async def test_a_failure_reaches_the_callers_of_that_batch_only():
    inner = SlowEcho()
    inner.fail_on = "bad"
    tracker = BatchingTracker(inner)
    with pytest.raises(RuntimeError, match="model failed"):
        await tracker.predict_async([request("bad")])
    inner.fail_on = None
    assert [p.label for p in await tracker.predict_async([request("fine")])] == ["fine"]
    assert await tracker.predict_async([]) == []

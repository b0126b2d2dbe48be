"""Router benchmark on the 77-intent proxy (``router_proxy``): the baseline against the router.

Baseline, as in the issue: frozen all-MiniLM-L6-v2 vectors and a logistic regression. Router:
what ``python -m app router train`` builds (fine-tuned MiniLM, head, label names). Both are
measured in the same run, on the same splits, at full data (10,010 training examples, the
public benchmark's size, so the router's training time is the 10,000-example / 77-label
figure) and at ten examples a label. The router is saved and loaded back before it is
scored, so accuracy and latency are those of a router folder as it is deployed.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.config import Settings
from app.models import EMBEDDINGS
from dialog.router import Router
from dialog.router_data import Example, subsample
from dialog.router_encoders import TorchEncoder
from dialog.router_eval import evaluate
from dialog.router_training import TrainingConfig, train_router
from tests.benchmarks.router_proxy import FULL_PER_LABEL, TEST_PER_LABEL, proxy_examples

SHOTS = 10
SEED = 7
# Training threads: the machine's two cores, as `router train` uses them. On a machine that
# is busy with other work, two threads are several times slower than one (each step waits
# for the thread that shares its core); ROUTER_BENCH_THREADS=1 measures on one core then.
THREADS = int(os.environ.get("ROUTER_BENCH_THREADS", "2"))


def baseline(train_vectors: np.ndarray, train: Sequence[Example], test_vectors: np.ndarray,
             test: Sequence[Example]) -> dict[str, Any]:
    """Frozen MiniLM vectors and scikit-learn's logistic regression with its defaults."""
    from sklearn.linear_model import LogisticRegression

    started = time.monotonic()
    model = LogisticRegression(max_iter=3000).fit(train_vectors, [e.label for e in train])
    predicted = model.predict(test_vectors)
    accuracy = float(np.mean(predicted == np.array([e.label for e in test])))
    return {"accuracy": round(accuracy, 4), "head_seconds": round(time.monotonic() - started, 1)}


def router_run(train: Sequence[Example], test: Sequence[Example], settings: Settings,
               folder: Path) -> dict[str, Any]:
    started = time.monotonic()
    trained = train_router(train, EMBEDDINGS.locate(), TrainingConfig(seed=SEED,
                                                                      threads=THREADS))
    seconds = time.monotonic() - started
    trained.save(folder)
    router = Router.load(folder, EMBEDDINGS.locate(), settings.cache_dir, threads=1)
    figures = evaluate(router, test, latency_samples=300)
    return {"accuracy": round(figures.accuracy, 4), "macro_f1": round(figures.macro_f1, 4),
            "train_seconds": round(seconds, 1), "train_examples": len(train),
            "epochs": trained.manifest.training.get("epochs"),
            "latency_ms_per_query_1_thread": figures.latency_ms,
            "most_confused": [f"{a} <-> {b}: {n}" for a, b, n in figures.confused[:5]]}


def run(settings: Settings, report: Callable[[str], None]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(THREADS)
    full = proxy_examples("train", FULL_PER_LABEL)
    test = proxy_examples("test", TEST_PER_LABEL)
    few = subsample(full, SHOTS, SEED)
    report(f"baseline: frozen MiniLM vectors of {len(full)} + {len(test)} texts")
    encoder = TorchEncoder.load(EMBEDDINGS.locate())
    full_vectors, test_vectors = encoder.encode([e.text for e in full]), encoder.encode(
        [e.text for e in test])
    index = {id(example): i for i, example in enumerate(full)}
    few_vectors = full_vectors[[index[id(e)] for e in few]]
    results: dict[str, Any] = {
        "data": "router proxy: 77 intents, held-out phrasings in the test split",
        "training_threads": THREADS, "load_average_at_start": os.getloadavg(),
        "train_examples": len(full), "test_examples": len(test), "labels": 77,
        "baseline_frozen_minilm_logreg": {
            "full": baseline(full_vectors, full, test_vectors, test),
            f"{SHOTS}_shot": baseline(few_vectors, few, test_vectors, test)}}
    with tempfile.TemporaryDirectory(prefix="router-bench-") as scratch:
        report(f"router: {SHOTS} examples a label ({len(few)} examples)")
        few_shot = router_run(few, test, settings, Path(scratch) / "few")
        report(f"router: full data ({len(full)} examples, 77 labels; the training-time "
               "figure)")
        full_run = router_run(full, test, settings, Path(scratch) / "full")
    results["router"] = {"full": full_run, f"{SHOTS}_shot": few_shot}
    results["gain_points"] = {
        regime: round(100 * (results["router"][regime]["accuracy"]
                             - results["baseline_frozen_minilm_logreg"][regime]["accuracy"]), 2)
        for regime in ("full", f"{SHOTS}_shot")}
    return results

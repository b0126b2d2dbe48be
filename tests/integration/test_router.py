"""The router with the real MiniLM, on the project's own labelled data (the sample
organizations' first messages): training, saving, loading, thresholds, evaluation with a
label the router never saw, and the CLI as a user runs it."""

import asyncio
import json
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from app.config import Settings
from app.models import EMBEDDINGS
from dialog.router import CLARIFY, DEFAULT_ROUTER, HUMAN, ROUTE, Head, Router
from dialog.router_data import Example, read_labelled_csv, subsample, write_labelled_csv
from dialog.router_encoders import Ct2Encoder, TorchEncoder, prepared_base_encoder
from dialog.router_eval import evaluate
from dialog.router_samples import CORES, sample_examples
from dialog.router_training import TrainingConfig, train_router
from tests.conftest import run_app

pytestmark = pytest.mark.slow
QUICK = TrainingConfig(epochs=2, threads=1, seed=5)  # a fine-tune small enough for a test


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("router-data")
    write_labelled_csv(folder / "train.csv", sample_examples("train", 40))
    write_labelled_csv(folder / "test.csv", sample_examples("test", 25))
    return {"train": folder / "train.csv", "test": folder / "test.csv"}


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory) -> tuple[Router, Path]:
    """A router fine-tuned on 12 examples a label, and the folder it was saved to."""
    train = subsample(sample_examples("train", 40), 12, seed=1)
    router = train_router(train, EMBEDDINGS.locate(), QUICK, show_progress=False)
    folder = tmp_path_factory.mktemp("fine-tuned") / "router"
    router.save(folder)
    return router, folder


def load(folder: Path) -> Router:
    return Router.load(folder, EMBEDDINGS.locate(), Settings().cache_dir)


def test_ctranslate2_and_torch_give_the_same_vectors():
    texts = [e.text for e in sample_examples("test", 5)] + ["ok", "x " * 300]
    torch_vectors = TorchEncoder.load(EMBEDDINGS.locate()).encode(texts)
    folder = prepared_base_encoder(EMBEDDINGS.locate(), Settings().cache_dir)
    ct2_vectors = Ct2Encoder(folder).encode(texts, batch_size=7)
    assert ct2_vectors.shape == torch_vectors.shape == (len(texts), 384)
    assert np.min(np.sum(ct2_vectors * torch_vectors, axis=1)) > 0.9999


def test_cli_trains_evaluates_and_predicts(data, tmp_path):
    out = tmp_path / "router"
    trained = run_app("router", "train", str(data["train"]), "--out", str(out), "--frozen",
                      "--seed", "3")
    assert trained.returncode == 0, trained.stderr
    assert "training on 240 examples, 6 labels" in trained.stderr
    assert "encoding" in trained.stderr  # the progress bar
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["labels"] == sorted(CORES) and manifest["out_of_scope"] == "out_of_scope"
    assert not (out / "encoder").exists()
    evaluated = run_app("router", "eval", str(data["test"]), "--model", str(out))
    assert evaluated.returncode == 0, evaluated.stderr
    lines = evaluated.stdout.strip().splitlines()
    assert lines[-1].startswith("accuracy: ") and float(lines[-1].split()[1]) >= 0.85
    assert any(line.startswith("macro-F1: ") for line in lines)
    assert any("p50" in line and "p95" in line for line in lines)
    assert "most confused label pairs:" in evaluated.stdout or "no label confused" in lines
    predicted = run_app("router", "predict", "--model", str(out), "--json",
                        "I can't make my appointment on Friday, can we move it?")
    assert predicted.returncode == 0, predicted.stderr
    routing = json.loads(predicted.stdout)
    assert routing["label"] == "appointment_confirmation" and routing["decision"] == ROUTE


def test_shots_and_seed_make_the_same_router(data, tmp_path):
    folders = {}
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        folders[name] = tmp_path / name
        result = run_app("router", "train", str(data["train"]), "--out", str(folders[name]),
                         "--frozen", "--shots", "10", "--seed", seed)
        assert result.returncode == 0, result.stderr
        assert "training on 60 examples" in result.stderr
    sha = {name: json.loads((f / "manifest.json").read_text())["training"]["data_sha256"]
           for name, f in folders.items()}
    assert sha["a"] == sha["b"] != sha["c"]
    np.testing.assert_array_equal(Head.load(folders["a"]).weights,
                                  Head.load(folders["b"]).weights)


def test_fine_tuned_router_survives_saving_and_loading(fine_tuned):
    router, folder = fine_tuned
    assert router.manifest.fine_tuned and (folder / "encoder" / "model.bin").is_file()
    loaded = load(folder)
    test = sample_examples("test", 15)
    texts = [e.text for e in test]
    np.testing.assert_allclose(loaded.probabilities(texts), router.probabilities(texts),
                               atol=2e-3)
    figures = evaluate(loaded, test, latency_samples=20)
    assert figures.accuracy >= 0.85, figures
    assert figures.latency_ms["p95"] < 200


def test_fine_tuning_is_reproducible_with_a_seed(fine_tuned):
    router, _ = fine_tuned
    train = subsample(sample_examples("train", 40), 12, seed=1)
    again = train_router(train, EMBEDDINGS.locate(), QUICK, show_progress=False)
    np.testing.assert_allclose(again.head.weights, router.head.weights, atol=1e-4)
    other = train_router(train, EMBEDDINGS.locate(), replace(QUICK, seed=6),
                         show_progress=False)
    assert not np.allclose(other.head.weights, router.head.weights, atol=1e-4)


def test_fine_tuning_beats_the_frozen_encoder_on_unseen_phrasings():
    train = subsample(sample_examples("train", 40), 5, seed=2)
    test = sample_examples("test", 30)
    frozen = train_router(train, EMBEDDINGS.locate(),
                          replace(QUICK, fine_tune=False, label_names=False),
                          show_progress=False)
    tuned = train_router(train, EMBEDDINGS.locate(), replace(QUICK, epochs=8),
                         show_progress=False)
    frozen_acc = evaluate(frozen, test, latency_samples=1).accuracy
    tuned_acc = evaluate(tuned, test, latency_samples=1).accuracy
    assert tuned_acc > frozen_acc, (tuned_acc, frozen_acc)


def test_the_shipped_router_routes_the_sample_organizations():
    router = load(DEFAULT_ROUTER)
    assert set(router.labels) == set(CORES)
    test = sample_examples("test", 30, seed=11)  # other draws than its recorded figure
    figures = evaluate(router, test, latency_samples=50)
    assert figures.accuracy >= 0.9, figures
    assert figures.latency_ms["p95"] < 50
    routing = asyncio.run(router.route_async("can I speak to a real person please"))
    assert (routing.label, routing.decision) == ("human", ROUTE)


def test_thresholds_send_unsure_requests_to_a_question_or_a_person():
    router = load(DEFAULT_ROUTER)
    text = "I have a question"
    routing = router.route(text)
    assert router.route(text, threshold=0.999).decision in (CLARIFY, HUMAN)
    assert router.route(text, threshold=0.0).decision == ROUTE
    assert router.route(text, threshold=routing.confidence).decision == ROUTE
    test = sample_examples("test", 20)
    loose, strict = evaluate(router, test, latency_samples=1), evaluate(
        router, test, threshold=0.95, latency_samples=1)
    assert strict.decisions[ROUTE] < loose.decisions[ROUTE]
    assert strict.routed_accuracy is not None and loose.routed_accuracy is not None
    assert strict.routed_accuracy >= loose.routed_accuracy


def test_eval_with_a_label_the_router_never_saw(data, tmp_path):
    rows = [*read_labelled_csv(data["test"])[:60],
            Example("what's the interest rate on a mortgage", "mortgage"),
            Example("I want to refinance my home loan", "mortgage")]
    path = tmp_path / "with-unknown.csv"
    write_labelled_csv(path, rows)
    result = run_app("router", "eval", str(path))
    assert result.returncode == 0, result.stderr
    assert "2 rows have labels this router was not trained on" in result.stdout
    assert "mortgage (2)" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("accuracy: ")
    assert Counter(e.label for e in rows)["mortgage"] == 2


def test_a_router_folder_without_its_encoder_is_refused(fine_tuned, tmp_path):
    _, folder = fine_tuned
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    shutil.rmtree(broken / "encoder")
    result = run_app("router", "predict", "--model", str(broken), "hello")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "encoder/ folder is missing" in result.stderr

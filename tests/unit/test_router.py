"""Router decisions, folders, evaluation and batching, with a stand-in encoder (no model)."""

import json
import random

import numpy as np
import pytest

from dialog.router import CLARIFY, HUMAN, ROUTE, Head, Manifest, Router
from dialog.router_data import Example, RouterDataError
from dialog.router_eval import confused_pairs, evaluate, macro_f1
from dialog.router_training import (
    TrainingConfig,
    batches,
    fit_head,
    label_texts,
    training_steps,
)

LABELS = ["balance", "card", "human"]
KEYWORDS = {"balance": "balance", "card": "card", "human": "person"}


class KeywordEncoder:
    """One dimension a label: 1 where the label's keyword is in the text."""

    def encode(self, texts, batch_size=64, progress=None):
        rows = [[float(KEYWORDS[label] in text) for label in LABELS] + [0.1] for text in texts]
        vectors = np.array(rows, dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def keyword_router(threshold=0.5, clarify_floor=0.2) -> Router:
    head = Head(np.eye(3, 4, dtype=np.float32) * 8, np.zeros(3, dtype=np.float32))
    manifest = Manifest(labels=LABELS, threshold=threshold, clarify_floor=clarify_floor)
    return Router(manifest, KeywordEncoder(), head)  # type: ignore[arg-type]


def test_confident_requests_are_routed_and_unclear_ones_are_not():
    router = keyword_router()
    routing = router.route("what is my balance")
    assert (routing.label, routing.decision) == ("balance", ROUTE)
    assert routing.confidence > 0.9 and [a for a, _ in routing.alternatives] != ["balance"]
    assert router.route("my card and my balance").decision == CLARIFY  # two labels, half each
    assert router.route("hello there").decision == CLARIFY  # a third each: above 0.2
    assert keyword_router(clarify_floor=0.4).route("hello there").decision == HUMAN


def test_a_threshold_given_at_request_time_wins():
    router = keyword_router()
    assert router.route("my card and my balance", threshold=0.4).decision == ROUTE
    assert router.route("what is my balance", threshold=1.0).decision == CLARIFY
    probs = np.array([0.3, 0.3, 0.4])
    assert router.decide(probs, threshold=0.35).decision == ROUTE
    assert keyword_router(clarify_floor=0.5).decide(probs).decision == HUMAN


def test_folder_round_trip_keeps_head_and_manifest(tmp_path):
    texts = ["my balance please", "card lost", "a person please", "balance now", "card stolen",
             "talk to a person"]
    targets = [0, 1, 2, 0, 1, 2]
    head = fit_head(KeywordEncoder().encode(texts), targets, 3, TrainingConfig())
    router = Router(Manifest(labels=LABELS, seed=3), KeywordEncoder(), head)
    router.save(tmp_path)
    assert not router.manifest.fine_tuned and not (tmp_path / "encoder").exists()
    loaded = Router(Manifest.read(tmp_path), KeywordEncoder(), Head.load(tmp_path))
    assert loaded.manifest == router.manifest
    np.testing.assert_array_equal(loaded.head.weights, router.head.weights)
    np.testing.assert_allclose(loaded.probabilities(texts), router.probabilities(texts))
    assert [r.label for r in loaded.route_many(texts)] == [LABELS[t] for t in targets]


def test_a_head_with_two_labels_scores_both():
    texts, targets = ["balance", "card", "my balance", "my card"], [0, 1, 0, 1]
    head = fit_head(KeywordEncoder().encode(texts), targets, 2, TrainingConfig())
    probs = head.probabilities(KeywordEncoder().encode(["card please"]))
    assert probs.shape == (1, 2) and probs[0, 1] > 0.5


@pytest.mark.parametrize("manifest", [None, "{not json", '{"labels": ["a"], "format": 99}',
                                      '{"labels": ["a"], "colour": "red"}'])
def test_unusable_router_folders_are_refused(tmp_path, manifest):
    if manifest is not None:
        (tmp_path / "manifest.json").write_text(manifest)
    with pytest.raises(RouterDataError):
        Manifest.read(tmp_path)


def test_a_head_that_does_not_match_the_labels_is_refused(tmp_path):
    (tmp_path / "head.npz").write_bytes(b"not an npz")
    with pytest.raises(RouterDataError, match="unreadable"):
        Head.load(tmp_path)
    with pytest.raises(RouterDataError, match="number of labels"):
        Router(Manifest(labels=["a", "b"]), KeywordEncoder(), keyword_router().head)  # type: ignore[arg-type]


def test_evaluation_leaves_unknown_labels_out_and_reports_them():
    examples = [Example("my balance", "balance"), Example("card gone", "card"),
                Example("a person", "human"), Example("my balance card", "card"),
                Example("mortgage rates", "mortgage"), Example("loan balance", "loan")]
    figures = evaluate(keyword_router(), examples, latency_samples=5)
    assert figures.examples == 6 and figures.labels == 3
    assert figures.accuracy == pytest.approx(3 / 4)
    assert figures.unknown == {"mortgage": 1, "loan": 1}
    assert figures.unknown_not_routed == 1  # "mortgage rates" is unclear; "loan balance" is not
    assert figures.confused == [("balance", "card", 1)]  # a tie goes to the first label
    assert sum(figures.decisions.values()) == pytest.approx(1.0)
    assert figures.latency_ms["queries"] == 5 and figures.latency_ms["p95"] >= 0


def test_evaluation_with_no_known_label_is_an_error():
    with pytest.raises(RouterDataError, match="none of the 1 rows"):
        evaluate(keyword_router(), [Example("x", "unknown")])


def test_macro_f1_and_confused_pairs():
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("b", "a"), ("c", "c"), ("c", "a")]
    # a: precision 1/3, recall 1/2; b: 1/2, 1/2; c: 1, 1/2
    assert macro_f1(pairs) == pytest.approx(np.mean([0.4, 0.5, 2 / 3]))
    assert confused_pairs(pairs) == [("a", "b", 2), ("a", "c", 1)]


def test_training_batches_cover_every_example_once_with_labels_in_pairs():
    targets = [i % 5 for i in range(103)]
    lengths = [random.Random(i).randint(3, 40) for i in range(103)]
    epoch = batches(lengths, targets, 16, random.Random(0))
    flat = [i for batch in epoch for i in batch]
    assert sorted(flat) == list(range(103)) and max(map(len, epoch)) <= 16
    paired = sum(len(b) - len({targets[i] for i in b}) for b in epoch)
    assert paired >= 40  # most examples share their batch with one of their label
    assert epoch == batches(lengths, targets, 16, random.Random(0))


def test_label_names_become_words():
    assert label_texts(["card_arrival", "reverted_card_payment?", "Top-Up.Limits"]) == [
        "card arrival", "reverted card payment", "top up limits"]


def test_manifest_is_plain_json(tmp_path):
    Manifest(labels=LABELS, out_of_scope=None, metrics={"accuracy": 0.9}).write(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    assert data["labels"] == LABELS and data["threshold"] == 0.5 and data["format"] == 1


def test_fine_tuning_steps_follow_epochs_on_small_sets_and_the_budget_on_large_ones():
    config = TrainingConfig(epochs=10, max_passes=16_000, batch_size=32)
    assert training_steps(770, config) == 10 * 25  # ten examples a label: all ten epochs
    assert training_steps(10_010, config) == 500  # 16,000 examples seen: 1.6 epochs
    assert training_steps(40_000, config) == 1250  # never less than one epoch

"""Training a router on a labelled set: fine-tune MiniLM, then fit the classifier head.

Fine-tuning (the default) trains a copy of all-MiniLM-L6-v2 (its six layers; the word
embeddings stay as they are, which saves a third of each step) with two losses on the
unit-length sentence vector: cross-entropy through a cosine classifier whose rows start at
the label centroids, and a supervised contrastive loss that pulls requests of one label
together and pushes the others apart. Batches hold examples of similar length (padding is
most of the cost on two cores), truncated at 64 tokens, drawn so that labels repeat within
a batch, which the contrastive loss needs. The head is then a logistic regression on the
fine-tuned vectors (better than the cosine classifier by 3 points on the proxy benchmark).

How long: ten epochs, but at most ``max_passes`` examples seen (two epochs of 10,000
examples, the size that has to train in under 15 minutes on two cores; never less than
one epoch). Measured on the 77-intent proxy (``tests/benchmarks/router_proxy.py``), ten
epochs beat four at ten examples a label and two epochs beat one at full data.

Each label's name, in words (``card_arrival`` -> ``card arrival``), is one more training
example: with ten examples a label, its name is real information. ``--frozen`` skips
fine-tuning (one encoding pass instead of epochs of training, and a router folder of a few
kilobytes). Everything
random is drawn from the seed, so the same data and seed give the same router.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dialog.router import (
    DEFAULT_CLARIFY_FLOOR,
    DEFAULT_THRESHOLD,
    Head,
    Manifest,
    Router,
)
from dialog.router_data import Example, RouterDataError
from dialog.router_encoders import TorchEncoder, model_fingerprint

OUT_OF_SCOPE_NAMES = ("out_of_scope", "oos", "out-of-scope", "outofscope", "other")


@dataclass(frozen=True)
class TrainingConfig:
    fine_tune: bool = True
    epochs: int = 10
    max_passes: int = 20_000  # examples seen in fine-tuning at most (sets epochs on big sets)
    batch_size: int = 32
    learning_rate: float = 5e-5
    head_learning_rate: float = 1e-3
    scale: float = 20.0
    contrastive: float = 1.0
    regularization: float = 100.0  # logistic regression C on the sentence vectors
    label_names: bool = True
    threshold: float = DEFAULT_THRESHOLD
    clarify_floor: float = DEFAULT_CLARIFY_FLOOR
    seed: int = 7
    threads: int = 2
    train_max_tokens: int = 64  # fine-tuning truncates longer requests (few are longer)
    freeze_embeddings: bool = True  # the word embeddings: 11.7M of MiniLM's 22.7M weights


def train_router(examples: Sequence[Example], base_model_dir: Path,
                 config: TrainingConfig = TrainingConfig(), show_progress: bool = True) -> Router:
    """A router for ``examples`` (already validated and, for few-shot, subsampled)."""
    import torch

    started = time.monotonic()
    _seed_everything(config.seed)
    torch.set_num_threads(config.threads)
    labels = sorted({e.label for e in examples})
    if len(labels) < 2:
        raise RouterDataError("a router needs at least 2 labels")
    texts = [e.text for e in examples] + (label_texts(labels) if config.label_names else [])
    targets = [labels.index(e.label) for e in examples] + (
        list(range(len(labels))) if config.label_names else [])
    encoder = TorchEncoder.load(base_model_dir)
    epochs = 0.0
    if config.fine_tune:
        epochs, _ = fine_tune(encoder, texts, targets, len(labels), config, show_progress)
    vectors = encoder.encode(texts, progress=_bar(len(texts), "encoding", show_progress))
    if show_progress:
        print("fitting the classifier head", file=sys.stderr, flush=True)
    head = fit_head(vectors, targets, len(labels), config)
    manifest = Manifest(
        labels=labels, threshold=config.threshold, clarify_floor=config.clarify_floor,
        out_of_scope=next((x for x in labels if x.lower() in OUT_OF_SCOPE_NAMES), None),
        base_fingerprint=model_fingerprint(base_model_dir), fine_tuned=config.fine_tune,
        seed=config.seed,
        training={"examples": len(examples), "data_sha256": data_fingerprint(examples),
                  "epochs": epochs,
                  "seconds": round(time.monotonic() - started, 1), "config": asdict(config)})
    router = Router(manifest, encoder, head)
    fitted = np.argmax(router.head.probabilities(vectors), axis=1)
    manifest.metrics["train_accuracy"] = round(float(np.mean(fitted == np.array(targets))), 4)
    return router


def label_texts(labels: Sequence[str]) -> list[str]:
    """A label's name as words: ``card_arrival`` -> ``card arrival``."""
    return [" ".join(re.sub(r"[_\-./?!]+", " ", label).split()).lower() or label
            for label in labels]


def data_fingerprint(examples: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(f"{example.text}\t{example.label}\n".encode())
    return digest.hexdigest()[:16]


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _bar(total: int, what: str, show: bool) -> Any:
    """A progress callback (``n`` more done) drawing a tqdm bar on stderr."""
    if not show:
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=what, unit="text", mininterval=1.0, leave=False)

    def advance(done: int) -> None:
        bar.update(done)
        if bar.n >= total:
            bar.close()

    return advance


def training_steps(examples: int, config: TrainingConfig) -> int:
    """Fine-tuning steps: ``epochs`` epochs, cut to ``max_passes`` examples (one epoch at least)."""
    per_epoch = math.ceil(examples / config.batch_size)
    budget = max(per_epoch, math.ceil(config.max_passes / config.batch_size))
    return min(config.epochs * per_epoch, budget)


def fine_tune(encoder: TorchEncoder, texts: Sequence[str], targets: Sequence[int],
              n_labels: int, config: TrainingConfig, show_progress: bool) -> tuple[float, Head]:
    """Train ``encoder`` in place (see the module's docstring); returns the epochs done and
    the cosine classifier trained with it, as a ``Head`` on unit-length vectors."""
    import torch
    from tqdm import tqdm

    rng = random.Random(config.seed)
    lengths = [len(ids) for ids in encoder.tokenizer(
        list(texts), truncation=True, max_length=config.train_max_tokens)["input_ids"]]
    head = torch.nn.Parameter(_centroids(encoder, texts, targets, n_labels, rng))
    if config.freeze_embeddings:
        encoder.model.embeddings.word_embeddings.weight.requires_grad_(False)
    trained = [p for p in encoder.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": trained, "lr": config.learning_rate},
         {"params": [head], "lr": config.head_learning_rate}], weight_decay=0.01)
    total = training_steps(len(texts), config)
    warmup = max(1.0, 0.1 * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / total))
    labels = torch.tensor(list(targets))
    stream = _epochs(lengths, targets, config.batch_size, rng)
    encoder.model.train()
    with tqdm(total=total, desc="fine-tuning", unit="step", mininterval=1.0,
              disable=not show_progress) as bar:
        for _ in range(total):
            epoch, batch = next(stream)
            tokens = encoder.tokens([texts[i] for i in batch], config.train_max_tokens)
            loss = _loss(encoder.pooled(tokens), labels[batch], head, config)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}", refresh=False)
    encoder.model.eval()
    rows = config.scale * torch.nn.functional.normalize(head.detach(), dim=-1)
    cosine = Head(rows.numpy().astype(np.float32), np.zeros(n_labels, dtype=np.float32))
    return round(total * config.batch_size / len(texts), 2), cosine


def _epochs(lengths: Sequence[int], targets: Sequence[int], size: int,
            rng: random.Random) -> Iterator[tuple[int, list[int]]]:
    """Batches without end, epoch after epoch, each with the epoch it belongs to."""
    epoch = 0
    while True:
        epoch += 1
        for batch in batches(lengths, targets, size, rng):
            yield epoch, batch


def _centroids(encoder: TorchEncoder, texts: Sequence[str], targets: Sequence[int],
               n_labels: int, rng: random.Random, per_label: int = 16) -> Any:
    """Unit-length mean vector of (at most ``per_label`` examples of) every label."""
    import torch

    by_label: dict[int, list[int]] = defaultdict(list)
    for position, target in enumerate(targets):
        by_label[target].append(position)
    chosen = [i for label in sorted(by_label)
              for i in rng.sample(by_label[label], min(per_label, len(by_label[label])))]
    vectors = torch.from_numpy(encoder.encode([texts[i] for i in chosen]))
    owners = torch.tensor([targets[i] for i in chosen])
    rows = torch.stack([vectors[owners == i].mean(0) for i in range(n_labels)])
    return torch.nn.functional.normalize(rows, dim=-1)


def _loss(vectors: Any, labels: Any, head: Any, config: TrainingConfig) -> Any:
    import torch
    import torch.nn.functional as F

    logits = config.scale * vectors @ F.normalize(head, dim=-1).T
    loss = F.cross_entropy(logits, labels)
    if config.contrastive:
        similarity = config.scale * vectors @ vectors.T
        itself = torch.eye(len(labels), dtype=torch.bool)
        similarity = similarity.masked_fill(itself, -1e4)
        positive = (labels[:, None] == labels[None, :]) & ~itself
        log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
        anchors = positive.any(dim=1)
        if anchors.any():
            per_anchor = (log_prob * positive).sum(1) / positive.sum(1).clamp(min=1)
            loss = loss - config.contrastive * per_anchor[anchors].mean()
    return loss


def batches(lengths: Sequence[int], targets: Sequence[int], size: int,
            rng: random.Random) -> list[list[int]]:
    """One epoch of batches: similar lengths together, labels in pairs where possible.

    Examples of each label are paired at random; pairs are sorted by length (with jitter,
    so batches differ between epochs) and cut into batches; the batches are shuffled.
    """
    by_label: dict[int, list[int]] = defaultdict(list)
    for index, target in enumerate(targets):
        by_label[target].append(index)
    pairs: list[list[int]] = []
    for label in sorted(by_label):
        members = by_label[label][:]
        rng.shuffle(members)
        pairs.extend(members[i:i + 2] for i in range(0, len(members), 2))
    pairs.sort(key=lambda pair: max(lengths[i] for i in pair) + rng.uniform(0, 4))
    out: list[list[int]] = []
    for pair in pairs:
        if out and len(out[-1]) + len(pair) <= size:
            out[-1].extend(pair)
        else:
            out.append(list(pair))
    rng.shuffle(out)
    return out


def fit_head(vectors: np.ndarray, targets: Sequence[int], n_labels: int,
             config: TrainingConfig) -> Head:
    """A logistic regression on the sentence vectors."""
    weights, bias = _logistic(vectors, np.array(targets), n_labels, config.regularization,
                              config.seed)
    return Head(weights, bias)


def _logistic(features: Any, y: np.ndarray, n_labels: int, c: float,
              seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(features, y)
    weights = np.zeros((n_labels, features.shape[1]), dtype=np.float32)
    bias = np.zeros(n_labels, dtype=np.float32)
    if len(model.classes_) == 2:  # one row of weights: the second class against the first
        weights[model.classes_[1]], bias[model.classes_[1]] = model.coef_[0], model.intercept_[0]
    else:
        weights[model.classes_], bias[model.classes_] = model.coef_, model.intercept_
    return weights, bias

"""The inbound request router: which agent, answer or person a first message is for.

A router is a folder: ``manifest.json`` (labels, thresholds, out-of-scope label, base model,
seed, training figures), ``head.npz`` (the classifier weights, plain arrays: nothing in a
router folder is unpickled or executed) and, when the sentence encoder was fine-tuned,
``encoder/`` (the fine-tuned all-MiniLM-L6-v2 in CTranslate2's form, with its tokenizer). A
router without ``encoder/`` uses the bundled MiniLM as it is; the manifest records a
fingerprint of it, so a folder is never read with a different base model.

A request is encoded once (mean-pooled MiniLM, unit length); the head gives a probability
per label. The decision: ``route`` when the best label is at least ``threshold`` likely,
``clarify`` (ask which of the best labels the caller means) between ``clarify_floor`` and
``threshold``, and ``human`` below ``clarify_floor``. ``human`` and ``out_of_scope`` are
labels like any other: routing to them is the orchestrator's business.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import structlog

from dialog.router_data import RouterDataError
from dialog.router_encoders import (
    Ct2Encoder,
    TorchEncoder,
    model_fingerprint,
    prepared_base_encoder,
)

FORMAT = 1
ROUTE, CLARIFY, HUMAN = "route", "clarify", "human"
DEFAULT_THRESHOLD = 0.5
DEFAULT_CLARIFY_FLOOR = 0.2
DEFAULT_ROUTER = Path(__file__).resolve().parent / "models" / "router"
Progress = Callable[[int], None]
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Routing:
    """Where one request goes, and how sure the router is."""

    label: str
    confidence: float
    decision: str
    alternatives: tuple[tuple[str, float], ...] = ()


@dataclass
class Manifest:
    labels: list[str]
    threshold: float = DEFAULT_THRESHOLD
    clarify_floor: float = DEFAULT_CLARIFY_FLOOR
    out_of_scope: str | None = None
    base_model: str = "all-MiniLM-L6-v2"
    base_fingerprint: str = ""
    fine_tuned: bool = False
    seed: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / "manifest.json"
        if not path.is_file():
            raise RouterDataError(f"{folder}: not a router folder (no manifest.json); train "
                                  "one with: python -m app router train DATA.csv --out DIR")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(**data)
        except (ValueError, TypeError) as error:
            raise RouterDataError(f"{path}: unreadable router manifest ({error})") from None
        if manifest.format != FORMAT:
            raise RouterDataError(f"{path}: router format {manifest.format}, this version "
                                  f"reads format {FORMAT}; retrain the router")
        return manifest

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.__dict__, indent=2, ensure_ascii=False)
        (folder / "manifest.json").write_text(text + "\n", encoding="utf-8")


class Encoder(Protocol):
    """What a router needs of a sentence encoder (see ``dialog.router_encoders``)."""

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               progress: Progress | None = None) -> np.ndarray: ...


@dataclass
class Head:
    """A linear layer over the sentence vector: a probability for every label."""

    weights: np.ndarray
    bias: np.ndarray

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        return _softmax(vectors @ self.weights.T + self.bias)

    def save(self, folder: Path) -> None:
        np.savez_compressed(folder / "head.npz", weights=self.weights, bias=self.bias)

    @classmethod
    def load(cls, folder: Path) -> Head:
        try:
            with np.load(folder / "head.npz", allow_pickle=False) as data:
                return cls(data["weights"].astype(np.float32), data["bias"].astype(np.float32))
        except (OSError, ValueError, KeyError) as error:
            raise RouterDataError(f"{folder}/head.npz: unreadable ({error})") from None


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


class Router:
    """A trained router: ``route(text)`` in milliseconds, one encoder pass per request."""

    def __init__(self, manifest: Manifest, encoder: Encoder, head: Head) -> None:
        if head.weights.shape[0] != len(manifest.labels):
            raise RouterDataError("router head and manifest disagree on the number of labels")
        self.manifest, self.encoder, self.head = manifest, encoder, head

    @property
    def labels(self) -> list[str]:
        return self.manifest.labels

    @classmethod
    def load(cls, folder: Path, base_model_dir: Path, cache_dir: Path,
             threads: int = 1) -> Router:
        """The router in ``folder``, encoding with CTranslate2 on ``threads`` threads.

        ``base_model_dir`` is the bundled MiniLM; a router that did not fine-tune it uses
        its CTranslate2 copy in ``cache_dir`` (made on first use).
        """
        manifest = Manifest.read(folder)
        head = Head.load(folder)
        if manifest.fine_tuned:
            encoder_dir = folder / "encoder"
            if not (encoder_dir / "model.bin").is_file():
                raise RouterDataError(f"{folder}: the router was fine-tuned but its encoder/ "
                                      "folder is missing or incomplete; copy it or retrain")
        else:
            found = model_fingerprint(base_model_dir)
            if manifest.base_fingerprint and found != manifest.base_fingerprint:
                raise RouterDataError(f"{folder}: trained on a different {manifest.base_model} "
                                      f"than the one installed ({base_model_dir}); retrain it")
            encoder_dir = prepared_base_encoder(base_model_dir, cache_dir)
        router = cls(manifest, Ct2Encoder(encoder_dir, threads), head)
        log.info("router.loaded", folder=str(folder), labels=len(manifest.labels),
                 fine_tuned=manifest.fine_tuned)
        return router

    def save(self, folder: Path) -> None:
        """Write the router folder; a fine-tuned encoder goes in ``encoder/``."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.manifest.fine_tuned:
            if isinstance(self.encoder, TorchEncoder):
                self.encoder.export(folder / "encoder")
            elif isinstance(self.encoder, Ct2Encoder) and self.encoder.folder != folder / "encoder":
                shutil.copytree(self.encoder.folder, folder / "encoder", dirs_exist_ok=True)
        self.head.save(folder)
        self.manifest.write(folder)

    def probabilities(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        vectors = self.encoder.encode(texts, batch_size=batch_size)
        return self.head.probabilities(vectors)

    def route(self, text: str, threshold: float | None = None) -> Routing:
        return self.decide(self.probabilities([text])[0], threshold)

    async def route_async(self, text: str, threshold: float | None = None) -> Routing:
        """``route`` in a worker thread, for callers on an event loop."""
        return await asyncio.to_thread(self.route, text, threshold)

    def route_many(self, texts: Sequence[str], threshold: float | None = None) -> list[Routing]:
        return [self.decide(row, threshold) for row in self.probabilities(texts)]

    def decide(self, probs: np.ndarray, threshold: float | None = None) -> Routing:
        threshold = self.manifest.threshold if threshold is None else threshold
        ranked = np.argsort(-probs)[:3]
        best = float(probs[ranked[0]])
        if best >= threshold:
            decision = ROUTE
        elif best >= min(self.manifest.clarify_floor, threshold):
            decision = CLARIFY
        else:
            decision = HUMAN
        others = tuple((self.labels[i], round(float(probs[i]), 4)) for i in ranked[1:])
        return Routing(self.labels[ranked[0]], round(best, 4), decision, others)

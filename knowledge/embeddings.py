"""Sentence embeddings with all-MiniLM-L6-v2, loaded from its local folder only."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np


def load_embedder(model_dir: Path) -> SentenceEmbedder:
    # The model folder is complete; never let the hub client look anything up.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceEmbedder(SentenceTransformer(str(model_dir), device="cpu"), model_dir.name)


class SentenceEmbedder:
    """Unit-length 384-dimension vectors for texts."""

    def __init__(self, model: object, name: str = "") -> None:
        self._model = model
        self.name = name

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(texts, normalize_embeddings=True,  # type: ignore[attr-defined]
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def embed_cached(embedder: SentenceEmbedder, texts: list[str],
                 cache_dir: Path | None) -> np.ndarray:
    """``embedder.embed(texts)``, kept on disk under ``cache_dir`` keyed by the model and the
    texts: thousands of fixed example sentences are embedded once, not at every start."""
    if cache_dir is None:
        return embedder.embed(texts)
    key = hashlib.sha256("\n".join([embedder.name, *texts]).encode()).hexdigest()[:24]
    path = cache_dir / "embeddings" / f"{key}.npy"
    if path.exists():
        vectors = np.load(path, allow_pickle=False)
        if vectors.shape[0] == len(texts):
            return vectors
    vectors = embedder.embed(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    np.save(partial, vectors, allow_pickle=False)
    partial.replace(path)
    return vectors

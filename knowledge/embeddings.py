"""Sentence embeddings with all-MiniLM-L6-v2, loaded from its local folder only."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def load_embedder(model_dir: Path) -> SentenceEmbedder:
    # The model folder is complete; never let the hub client look anything up.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceEmbedder(SentenceTransformer(str(model_dir), device="cpu"))


class SentenceEmbedder:
    """Unit-length 384-dimension vectors for texts."""

    def __init__(self, model: object) -> None:
        self._model = model

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(texts, normalize_embeddings=True,  # type: ignore[attr-defined]
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

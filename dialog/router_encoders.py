"""The router's sentence encoders: all-MiniLM-L6-v2 in torch to train, in CTranslate2 to route.

Both give the same vector for a text (mean of the last layer over its tokens, unit length;
cosine 1.0000 between the two measured here), but CTranslate2 encodes one short request in
about half the time torch takes on this CPU, and loads without transformers. A fine-tuned
encoder is saved into the router folder in CTranslate2's form; the bundled MiniLM, which a
frozen router uses, is converted once into the cache (``<cache>/router-encoder/<fingerprint>``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import structlog

MAX_TOKENS = 128
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "vocab.txt")
Progress = Callable[[int], None]
log = structlog.get_logger(__name__)


def model_fingerprint(model_dir: Path) -> str:
    """Cheap identity of a model folder: its config and the size and head of its weights."""
    digest = hashlib.sha256((model_dir / "config.json").read_bytes())
    weights = model_dir / "model.safetensors"
    if weights.is_file():
        digest.update(str(weights.stat().st_size).encode())
        with weights.open("rb") as handle:
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:16]


def _length_order(texts: Sequence[str]) -> list[int]:
    return sorted(range(len(texts)), key=lambda i: len(texts[i]))


class TorchEncoder:
    """MiniLM in torch, from a local folder only: what training fine-tunes."""

    def __init__(self, model: Any, tokenizer: Any, max_tokens: int = MAX_TOKENS) -> None:
        self.model, self.tokenizer, self.max_tokens = model, tokenizer, max_tokens

    @classmethod
    def load(cls, model_dir: Path) -> TorchEncoder:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        model = AutoModel.from_pretrained(str(model_dir)).eval()
        return cls(model, tokenizer)

    def tokens(self, texts: Sequence[str], max_tokens: int | None = None) -> Any:
        return self.tokenizer(list(texts), padding=True, truncation=True,
                              max_length=max_tokens or self.max_tokens, return_tensors="pt")

    def pooled(self, batch: Any) -> Any:
        """Unit-length mean of the last layer over real tokens (a torch tensor, with grad)."""
        import torch

        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return torch.nn.functional.normalize(mean, dim=-1)

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               progress: Progress | None = None) -> np.ndarray:
        """Vectors for ``texts`` in order; batches of similar length waste no padding."""
        import torch

        self.model.eval()
        order = _length_order(texts)
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                out[chunk] = self.pooled(self.tokens([texts[i] for i in chunk])).numpy()
                if progress:
                    progress(len(chunk))
        return out

    def export(self, folder: Path) -> None:
        """Write this encoder to ``folder`` in CTranslate2's form, with its tokenizer."""
        with tempfile.TemporaryDirectory(prefix="router-encoder-") as scratch:
            self.model.save_pretrained(scratch)
            self.tokenizer.save_pretrained(scratch)
            convert_to_ct2(Path(scratch), folder)


class Ct2Encoder:
    """MiniLM in CTranslate2 (float32, so vectors match torch's): what routing runs."""

    def __init__(self, folder: Path, threads: int = 1) -> None:
        import ctranslate2
        from tokenizers import Tokenizer

        self.folder = folder
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()  # MiniLM's file pads everything to 128 tokens
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.model = ctranslate2.Encoder(str(folder), device="cpu", compute_type="float32",
                                         intra_threads=threads)

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               progress: Progress | None = None) -> np.ndarray:
        order = _length_order(texts)
        out: np.ndarray | None = None
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            ids = [encoding.ids for encoding in
                   self.tokenizer.encode_batch([texts[i] for i in chunk])]
            hidden = np.asarray(self.model.forward_batch(ids).last_hidden_state)
            lengths = np.array([len(row) for row in ids])
            mask = (np.arange(hidden.shape[1])[None, :] < lengths[:, None])[..., None]
            mean = (hidden * mask).sum(1) / lengths[:, None]
            if out is None:
                out = np.zeros((len(texts), hidden.shape[2]), dtype=np.float32)
            out[chunk] = mean / np.linalg.norm(mean, axis=1, keepdims=True)
            if progress:
                progress(len(chunk))
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def convert_to_ct2(model_dir: Path, folder: Path) -> None:
    """A transformers BERT folder (``model_dir``) as a CTranslate2 model in ``folder``.

    Written next to ``folder`` and renamed into place: an interrupted conversion never
    leaves a folder that looks complete.
    """
    from ctranslate2.converters import TransformersConverter

    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        TransformersConverter(str(model_dir)).convert(str(partial), force=True)
        for name in TOKENIZER_FILES:
            if (model_dir / name).is_file():
                shutil.copy(model_dir / name, partial / name)
        if folder.exists():
            shutil.rmtree(folder)
        partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def prepared_base_encoder(base_model_dir: Path, cache_dir: Path) -> Path:
    """The bundled MiniLM in CTranslate2's form, converted into the cache the first time."""
    folder = cache_dir / "router-encoder" / model_fingerprint(base_model_dir)
    if not (folder / "model.bin").is_file():
        log.info("router.encoder_convert", into=str(folder), note="once, about 10 s")
        convert_to_ct2(base_model_dir, folder)
    return folder

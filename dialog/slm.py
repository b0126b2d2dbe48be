"""The small language model (SmolLM2-135M-Instruct) on CTranslate2 int8.

Loading, chat prompting and generation. The tokenizer is read with the ``tokenizers``
library from the converted model's folder, so no transformers import sits on the hot path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ctranslate2
from tokenizers import Tokenizer

END_OF_TURN_TOKEN = "<|im_end|>"


@dataclass(frozen=True)
class Generation:
    text: str
    tokens: int
    first_token_s: float
    total_s: float

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.total_s if self.total_s > 0 else 0.0


def chat_prompt(messages: list[dict[str, str]]) -> str:
    """SmolLM2's ChatML prompt, ending where the assistant's reply starts."""
    parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"


class SmallLanguageModel:
    """A CTranslate2 generator and its tokenizer; safe to share between conversations."""

    def __init__(self, model_dir: Path, *, threads: int = 2) -> None:
        self._generator = ctranslate2.Generator(str(model_dir), device="cpu",
                                                compute_type="int8", intra_threads=threads)
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))

    def tokens(self, text: str) -> list[str]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).tokens)

    def stream(self, prompt: str, *, max_tokens: int = 64) -> Iterator[int]:
        """Token ids of a greedy continuation of ``prompt``, as they are produced."""
        for step in self._generator.generate_tokens(
            self.tokens(prompt), max_length=max_tokens, sampling_topk=1,
            end_token=END_OF_TURN_TOKEN,
        ):
            yield step.token_id

    def generate(self, prompt: str, *, max_tokens: int = 64) -> Generation:
        started = time.perf_counter()
        first: float | None = None
        ids: list[int] = []
        for token_id in self.stream(prompt, max_tokens=max_tokens):
            if first is None:
                first = time.perf_counter() - started
            ids.append(token_id)
        total = time.perf_counter() - started
        return Generation(self._tokenizer.decode(ids), len(ids), first or total, total)

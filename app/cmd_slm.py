"""`python -m app slm train`: fine-tune the state tracker on data written from the flows."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.config import Settings
from app.slm_prepare import TRACKER_ADAPTER
from dialog.tracker_data import HEARD_EXAMPLES


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
    # Opt-in: on three training runs with the readings, heard turns were tracked right 3 to 6
    # points more often, typed turns 2 to 3 points less often (`make bench`, spoken_tracking).
    train.add_argument("--heard", type=Path, default=None,
                       help="also train on the recognizer's readings of the examples, from "
                            f"`slm hear` (such as {HEARD_EXAMPLES})")
    hear = actions.add_parser("hear", help="speak every flow example over a phone line and "
                                           "write what the speech recognizer heard")
    hear.add_argument("--out", type=Path, default=HEARD_EXAMPLES)
    hear.add_argument("--seed", type=int, default=7)
    hear.add_argument("--again", action="store_true",
                      help="hear every example again, not only those without readings")
    parser.set_defaults(handler=run)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.slm_command == "hear":
        return _hear(args)
    return _train(args, settings)


def _hear(args: argparse.Namespace) -> int:
    from app.heard_examples import hear_examples, save_heard
    from app.model_loading import load_asr
    from dialog.catalog import common_lines, load_flows
    from dialog.tracker_data import load_heard, spoken_examples

    texts = spoken_examples(load_flows(), common_lines())
    known = load_heard(args.out) if args.out.exists() and not args.again else {}
    _progress(f"speaking {sum(t not in known for t in texts)} of {len(texts)} examples over "
              "a phone line (the others were heard before)")
    heard = hear_examples(texts, load_asr(), seed=args.seed, known=known, progress=_progress)
    save_heard(heard, args.out)
    changed = sum(any(r.lower().strip(".?!") != t.lower() for r in rs) for t, rs in heard.items())
    print(f"{len(heard)} examples heard, {changed} of them not word for word; written to "
          f"{args.out}")
    return 0


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from app.slm_prepare import prepare_slm, prepare_tracker
    from dialog.catalog import common_lines, load_flows
    from dialog.tracker_data import load_heard, training_examples
    from dialog.tracker_training import TrainingConfig, train_adapter

    heard = load_heard(args.heard) if args.heard else None
    flows, lines = load_flows(), common_lines()
    train = training_examples(flows, lines, per_label=args.per_label, seed=args.seed,
                              heard=heard)
    validation = training_examples(flows, lines, per_label=4, seed=args.seed + 1000,
                                   heard=heard)
    _progress(f"{len(train)} training and {len(validation)} validation turns from "
             f"{len(flows)} flows")
    base = prepare_slm(settings.cache_dir, _progress)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = train_adapter(base.hf_dir, train, validation, args.out,
                             TrainingConfig(epochs=args.epochs, seed=args.seed), _progress)
    print(f"adapters written to {args.out}; validation accuracy "
          f"{manifest['validation_accuracy']:.4f}")
    if args.out == TRACKER_ADAPTER:
        prepare_tracker(settings.cache_dir, _progress)
    return 0

"""`python -m app asr train`: fine-tune the speech recognizer for phone speech."""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from app.asr_prepare import ASR_ADAPTER
from app.config import Settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("asr", help="adapt the speech recognizer to phone speech")
    actions = parser.add_subparsers(dest="asr_command", required=True)
    train = actions.add_parser("train", help="speak the flows' caller lines over a phone "
                                             "line and fine-tune Whisper (LoRA adapters)")
    train.add_argument("--out", type=Path, default=ASR_ADAPTER,
                       help=f"adapter folder (default: {ASR_ADAPTER})")
    train.add_argument("--epochs", type=int, default=2)
    train.add_argument("--voices-per-line", type=int, default=2)
    train.add_argument("--seed", type=int, default=5)
    train.add_argument("--exclude", type=Path, nargs="*", default=[],
                       help="scenario files (.jsonl) or folders of them whose caller lines "
                            "must not be trained on")
    train.add_argument("--recordings", type=Path, nargs="*", default=[],
                       help="real recordings of one spoken digit, {digit}_{speaker}_{n}.wav "
                            "(such as ../shared/data/fsdd)")
    parser.set_defaults(handler=run)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _excluded_lines(paths: list[Path]) -> list[str]:
    from dialog.scenarios import load_scenarios

    files = [found for path in paths
             for found in (sorted(path.glob("*.jsonl")) if path.is_dir() else [path])]
    return [line for file in files for scenario in load_scenarios(file)
            for line in scenario.caller]


def run(args: argparse.Namespace, settings: Settings) -> int:
    from app.asr_corpus import (
        DIGIT_CONTEXT,
        DIGIT_HINT,
        recorded_digits,
        speak_lines,
        training_lines,
    )
    from app.asr_prepare import prepare_asr
    from app.asr_training import AsrTrainingConfig, Prompts, train_asr_adapter
    from app.models import ASR
    from dialog.catalog import common_lines, load_flows
    from dialog.tracker import step_context
    from dialog.tracker_data import NAMES

    flows, lines = load_flows(), common_lines()
    excluded = _excluded_lines(args.exclude)
    written = training_lines(flows, lines, exclude=excluded, seed=args.seed)
    _progress(f"{len(written)} caller lines ({len(set(excluded))} scenario lines left out); "
              f"speaking each in {args.voices_per_line} voices over a phone line")
    spoken = speak_lines(written, voices_per_line=args.voices_per_line, seed=args.seed,
                         progress=_progress)
    spoken += recorded_digits(args.recordings, seed=args.seed)
    _progress(f"{len(args.recordings)} recordings of real speech added")
    random.Random(args.seed).shuffle(spoken)
    held = max(len(spoken) // 20, 1)
    hints = {step.removeprefix("listen_"): text for step, text in lines.lines.items()
             if step.startswith("listen_")}
    hints |= {step_context(flow.agent, name): step.listen for flow in flows.values()
              for name, step in flow.steps.items() if step.listen}
    hints[DIGIT_CONTEXT] = DIGIT_HINT
    prompts = Prompts(hints, [name.split()[0] for name in NAMES])
    manifest = train_asr_adapter(ASR.locate(), spoken[held:], spoken[:held], prompts, args.out,
                                 AsrTrainingConfig(epochs=args.epochs), _progress)
    print(f"adapters written to {args.out}; validation token accuracy "
          f"{manifest['validation_token_accuracy_before']:.4f} -> "
          f"{manifest['validation_token_accuracy']:.4f} in {manifest['seconds']} s")
    if args.out == ASR_ADAPTER:
        print(f"recognizer prepared: {prepare_asr(settings.cache_dir, _progress)}")
    return 0

"""`python -m app router train|eval|predict|sample-data`: the inbound request router."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from app.config import Settings
from app.dialogue import INFERENCE_THREADS, load_router
from app.models import EMBEDDINGS
from dialog.router import DEFAULT_ROUTER, Router
from dialog.router_data import RouterDataError, read_labelled_csv, subsample, write_labelled_csv
from dialog.router_eval import Evaluation


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("router", help="train, evaluate and run the request router")
    actions = parser.add_subparsers(dest="router_command", required=True)
    train = actions.add_parser("train", help="train a router on a text,label CSV")
    train.add_argument("data", type=Path, help="CSV with the columns text,label")
    train.add_argument("--out", type=Path, required=True, help="router folder to write")
    train.add_argument("--seed", type=int, default=7, help="same data and seed, same router")
    train.add_argument("--shots", type=int, help="use at most this many examples a label")
    train.add_argument("--frozen", action="store_true",
                       help="keep MiniLM as it is and train only the head (one encoding "
                            "pass, several times faster; a folder of kilobytes)")
    train.add_argument("--epochs", type=int,
                       help="fine-tuning epochs (default 10, cut to 20,000 examples seen)")
    train.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                       help="CPU threads for training (default: all cores)")
    train.add_argument("--threshold", type=float, help="route at or above this confidence")
    train.add_argument("--eval", type=Path, dest="eval_data",
                       help="evaluate on this CSV after training and record the figures")
    train.set_defaults(handler=run_train)
    evaluate = actions.add_parser("eval", help="accuracy, macro-F1, confusions, latency")
    evaluate.add_argument("data", type=Path, help="CSV with the columns text,label")
    _model_option(evaluate)
    evaluate.add_argument("--json", type=Path, help="also write the figures to this file")
    evaluate.set_defaults(handler=run_eval)
    predict = actions.add_parser("predict", help="route one or more requests")
    predict.add_argument("texts", nargs="+", metavar="TEXT")
    _model_option(predict)
    predict.add_argument("--json", action="store_true", help="one JSON object a line")
    predict.set_defaults(handler=run_predict)
    sample = actions.add_parser("sample-data",
                                help="write the sample organizations' labelled CSV")
    sample.add_argument("out", type=Path)
    sample.add_argument("--split", choices=("train", "test"), default="train")
    sample.add_argument("--per-label", type=int, default=100)
    sample.add_argument("--seed", type=int, default=7)
    sample.set_defaults(handler=run_sample)


def _model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=DEFAULT_ROUTER,
                        help="router folder (default: the shipped router of the sample "
                             "organizations)")
    parser.add_argument("--threshold", type=float,
                        help="route at or above this confidence (default: the router's)")


def run_train(args: argparse.Namespace, settings: Settings) -> int:
    from dialog.router_training import TrainingConfig, train_router

    examples = read_labelled_csv(args.data)
    eval_examples = read_labelled_csv(args.eval_data, min_labels=1) if args.eval_data else None
    if args.shots is not None:
        examples = subsample(examples, args.shots, args.seed)
    config = TrainingConfig(seed=args.seed, fine_tune=not args.frozen,
                            threads=max(1, args.threads))
    if args.epochs is not None:
        if args.epochs < 1:
            raise RouterDataError(f"--epochs must be at least 1, not {args.epochs}")
        config = replace(config, epochs=args.epochs)
    if args.threshold is not None:
        config = replace(config, threshold=_probability(args.threshold))
    labels = len({e.label for e in examples})
    mode = "frozen MiniLM + head" if args.frozen else "fine-tuned MiniLM + head"
    print(f"training on {len(examples)} examples, {labels} labels ({mode}, seed {args.seed})",
          file=sys.stderr, flush=True)
    router = train_router(examples, EMBEDDINGS.locate(), config)
    router.save(args.out)
    print(f"router written to {args.out} in {router.manifest.training['seconds']:.0f} s "
          f"(training accuracy {router.manifest.metrics['train_accuracy']:.4f})")
    if eval_examples is not None:
        from dialog.router_eval import evaluate

        saved = load_router(settings, args.out)  # evaluated as it will be used
        figures = evaluate(saved, eval_examples, latency_samples=100)
        saved.manifest.metrics |= {"eval_data": args.eval_data.name,
                                   "accuracy": round(figures.accuracy, 4),
                                   "macro_f1": round(figures.macro_f1, 4)}
        saved.manifest.write(args.out)
        print(f"accuracy on {args.eval_data.name}: {figures.accuracy:.4f}")
    return 0


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    from dialog.router_eval import evaluate

    examples = read_labelled_csv(args.data, min_labels=1)
    router = load_router(settings, args.model)
    threshold = _probability(args.threshold) if args.threshold is not None else None
    started = time.monotonic()
    figures = evaluate(router, examples, threshold=threshold)
    _print_evaluation(figures, router, threshold, time.monotonic() - started)
    if args.json:
        args.json.write_text(json.dumps(asdict(figures), indent=2) + "\n")
    return 0


def _print_evaluation(figures: Evaluation, router: Router, threshold: float | None,
                      seconds: float) -> None:
    threshold = router.manifest.threshold if threshold is None else threshold
    print(f"examples: {figures.examples} ({figures.labels} labels), evaluated in {seconds:.0f} s")
    if figures.unknown:
        names = ", ".join(f"{label} ({n})" for label, n in list(figures.unknown.items())[:8])
        print(f"warning: {sum(figures.unknown.values())} rows have labels this router was not "
              f"trained on, left out of accuracy: {names}; {figures.unknown_not_routed} of "
              "them were not routed (clarify or human)")
    print(f"macro-F1: {figures.macro_f1:.4f}")
    routed = ("" if figures.routed_accuracy is None
              else f" (accuracy {figures.routed_accuracy:.2%})")
    print(f"at threshold {threshold:.2f}: route {figures.decisions['route']:.1%}{routed}, "
          f"clarify {figures.decisions['clarify']:.1%}, human {figures.decisions['human']:.1%}")
    print("most confused label pairs:" if figures.confused else "no label confused")
    for first, second, count in figures.confused:
        print(f"  {count:4d}  {first} <-> {second}")
    latency = figures.latency_ms
    print(f"latency per query: p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms "
          f"({latency['queries']} single queries, {INFERENCE_THREADS} thread)")
    print(f"accuracy: {figures.accuracy:.4f}")


def run_predict(args: argparse.Namespace, settings: Settings) -> int:
    router = load_router(settings, args.model)
    threshold = _probability(args.threshold) if args.threshold is not None else None
    for text in args.texts:
        if not text.strip():
            raise RouterDataError("an empty text cannot be routed")
        routing = router.route(text, threshold)
        if args.json:
            print(json.dumps({"text": text, **asdict(routing)}, ensure_ascii=False))
        else:
            others = ", ".join(f"{label} {p:.2f}" for label, p in routing.alternatives)
            print(f"{routing.label}\t{routing.confidence:.2f}\t{routing.decision}\t"
                  f"(then: {others})")
    return 0


def run_sample(args: argparse.Namespace, settings: Settings) -> int:
    from dialog.router_samples import sample_examples

    examples = sample_examples(args.split, args.per_label, args.seed)
    write_labelled_csv(args.out, examples)
    print(f"{len(examples)} examples written to {args.out}")
    return 0


def _probability(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise RouterDataError(f"a threshold is a probability between 0 and 1, not {value}")
    return value

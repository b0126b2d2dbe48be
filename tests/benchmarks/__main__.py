"""`python -m tests.benchmarks --out DIR` (what `make bench` runs): writes one JSON file per
benchmark into DIR and prints the headline figures."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path

from app.config import Settings
from app.logs import configure_logging
from tests.benchmarks import (
    campaign_schedule_bench,
    campaign_sip_bench,
    chat_load_bench,
    dialog_bench,
    phone_answers_bench,
    phone_speech_bench,
    router_bench,
    sip_load_bench,
    spoken_tracking_bench,
    voice_bench,
)

BENCHMARKS = {"voice": voice_bench.run, "dialog": dialog_bench.run, "router": router_bench.run,
              "chat_load": chat_load_bench.run, "campaign_schedule": campaign_schedule_bench.run,
              "campaign_sip": campaign_sip_bench.run, "sip_load": sip_load_bench.run,
              "phone_answers": phone_answers_bench.run, "phone_speech": phone_speech_bench.run,
              "spoken_tracking": spoken_tracking_bench.run}


def _progress(benchmark: str, line: str) -> None:
    print(f"[{benchmark}] {line}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append")
    args = parser.parse_args()
    settings = Settings()
    configure_logging("warning")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or sorted(BENCHMARKS):
        started = time.monotonic()
        figures = BENCHMARKS[name](settings, partial(_progress, name))
        figures["machine"] = {"cpus": os.cpu_count(),
                              "python": platform.python_version()}
        figures["bench_seconds"] = round(time.monotonic() - started, 1)
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(figures, indent=2) + "\n")
        print(json.dumps(figures, indent=2))
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

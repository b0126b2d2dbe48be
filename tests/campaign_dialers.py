"""Dialer processes for the campaign crash test: ``python -m app campaign run ...`` each, but
forked from a process that has already imported the app (multiprocessing's forkserver,
which imports ``PRELOAD`` once), so that starting one after a SIGKILL costs a fork instead
of a second of CPU spent importing. Fifty restarts' imports would otherwise take most of a
core of a two-core machine away from the dialers while the kills go on.

Each process is a new one: it runs the CLI's ``main`` from the start (settings, database
engine, dialer), with its own environment, its output appended to a file; killing it
(``Process.kill``, SIGKILL) leaves nothing behind in the server it was forked from.
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.process import BaseProcess
from pathlib import Path

PRELOAD = ["app.cli", "tests.campaign_carrier", "tests.campaign_dialers"]


def start_cli(argv: list[str], env: dict[str, str], cwd: Path, output: Path) -> BaseProcess:
    """A started process running ``python -m app`` with ``argv`` in ``env`` and ``cwd``,
    its standard output and error appended to ``output``."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)  # before the server's first start only
    process = context.Process(target=_run_cli, args=(argv, env, str(cwd), str(output)))
    process.start()
    return process


def _run_cli(argv: list[str], env: dict[str, str], cwd: str, output: str) -> None:
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    descriptor = os.open(output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    from app.cli import main

    raise SystemExit(main(argv))

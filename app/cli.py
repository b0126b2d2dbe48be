"""`python -m app`: one entry point, one place where errors become a one-line message."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from app import (
    cmd_asr,
    cmd_call,
    cmd_campaign,
    cmd_chat,
    cmd_dial,
    cmd_dnc,
    cmd_eval,
    cmd_kb,
    cmd_models,
    cmd_router,
    cmd_serve,
    cmd_slm,
)
from app.campaigns.store import CampaignNotFoundError, CampaignStateError
from app.config import Settings
from app.db import DatabaseConfigError
from app.errors import InputError
from app.logs import configure_logging
from app.model_loading import ModelNotPreparedError
from app.models import ModelPackageMissingError
from dialog.flow_spec import FlowError
from dialog.registry import UnknownAgentError
from dialog.render import MissingContextError
from dialog.router_data import RouterDataError
from dialog.scenarios import ScenarioError
from voice.errors import VoiceError

EXPECTED_ERRORS = (InputError, VoiceError, ModelPackageMissingError, ModelNotPreparedError,
                   UnknownAgentError, FlowError, ScenarioError, MissingContextError,
                   RouterDataError, CampaignNotFoundError, CampaignStateError,
                   DatabaseConfigError, OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app",
                                     description="Offline voice and chat agent.")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in (cmd_serve, cmd_models, cmd_call, cmd_dial, cmd_chat, cmd_eval, cmd_kb,
                    cmd_slm, cmd_asr, cmd_router, cmd_campaign, cmd_dnc):
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        print(f"error: invalid settings: {_first_problem(error)}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        code: int = args.handler(args, settings)
    except EXPECTED_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}"

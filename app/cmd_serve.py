"""`python -m app serve`."""

from __future__ import annotations

import argparse

from app.config import Settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("serve", help="start the HTTP server")
    parser.add_argument("--host", help="address to listen on (default from settings)")
    parser.add_argument("--port", type=int, help="port to listen on (default from settings)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from app.server import serve  # the server's imports are heavy: only when serving

    overrides = {key: value for key, value in (("host", args.host), ("port", args.port))
                 if value is not None}
    serve(settings.model_copy(update=overrides) if overrides else settings)
    return 0

"""Structured logging: structlog for the project, the standard library's records routed
through the same renderer, and every field passed through redaction first."""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any, Literal, TextIO

import structlog

from app.redaction import redact_text, redact_value

LogFormat = Literal["console", "json"]


_NOT_PERSONAL = frozenset({"timestamp", "level", "logger"})


def _redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {key: value if key in _NOT_PERSONAL else redact_value(key, value)
            for key, value in event_dict.items()}


def _redacted_traceback(out: TextIO, exc_info: Any) -> None:
    out.write("\n" + redact_text("".join(traceback.format_exception(*exc_info))))


def _redact_exception(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A traceback's text may quote what a caller said (an error message): masked too."""
    if isinstance(event_dict.get("exception"), str):
        event_dict["exception"] = redact_text(event_dict["exception"])
    return event_dict


def configure_logging(level: str = "info", fmt: LogFormat = "console") -> None:
    """Configure structlog and the standard library's logging to write to stderr."""
    renderer: Any = (structlog.processors.JSONRenderer() if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=False,
                                                        exception_formatter=_redacted_traceback))
    # JSON lines carry the traceback as text; the console renderer prints it itself.
    finishing: list[Any] = ([structlog.processors.format_exc_info, _redact_exception]
                            if fmt == "json" else [])
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *finishing,
                    renderer],
        foreign_pre_chain=shared,
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party libraries are chatty at INFO; their warnings still come through.
    for noisy in ("livekit", "livekit.agents", "faster_whisper", "httpx", "chromadb"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))

"""Errors raised by the speech layer. The application turns them into events or one-line
messages at its boundary; nothing below it prints or exits."""

from __future__ import annotations


class VoiceError(Exception):
    """Base of every error the speech layer raises on purpose."""


class AudioFormatError(VoiceError):
    """Audio that cannot be used: not a WAV, truncated, no channels, too long."""


class ModelUnavailableError(VoiceError):
    """A speech model could not be found or loaded."""

"""Errors about what the user gave the application (files, arguments)."""


class InputError(Exception):
    """A file or argument the user gave cannot be used; the message says why."""

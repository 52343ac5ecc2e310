"""Errors that reach users as one clear line instead of a traceback."""

from __future__ import annotations


class AvvpError(Exception):
    """A problem with the user's input (a file, a config, an argument).

    The message must name the file (and line or key) and the problem. The CLI prints it as
    ``avvp: error: <message>`` and exits with status 2.
    """


class DataError(AvvpError):
    """A dataset file is missing, malformed or inconsistent."""


class ConfigError(AvvpError):
    """A config file or a ``key=value`` override is invalid."""

"""The project's one exception family. The CLI maps each class to an exit code and a one-line message."""

from __future__ import annotations


class CardliveError(Exception):
    """Base of every error a user can act on. The message must say what was wrong and what was expected."""

    exit_code = 1


class ParameterError(CardliveError, ValueError):
    """A parameter is outside its allowed range or of the wrong kind."""

    exit_code = 2


class InputError(CardliveError):
    """An input file or directory is missing, unreadable or malformed."""

    exit_code = 3


class OutputError(CardliveError):
    """An output location cannot be written, or would overwrite existing results."""

    exit_code = 4


class SimulationError(CardliveError):
    """The simulator could not render a capture from the given parameters."""

    exit_code = 5


class NotBuiltError(CardliveError):
    """A stage of the product that this version does not contain yet."""

    exit_code = 6


class ConversionError(CardliveError):
    """A model could not be converted to a runtime's file format (e.g. an op the converter cannot lower)."""

    exit_code = 7

"""The exceptions of the ``satr`` package. Every error satr reports derives from
:class:`SatrError`; the extension module raises these (a Rust panic too, as
:class:`InternalError`, never as PyO3's ``PanicException``)."""

from __future__ import annotations

__all__ = [
    "SatrError",
    "ConfigError",
    "UsageError",
    "TaskError",
    "CheckpointError",
    "EngineError",
    "ExportError",
    "RunLockedError",
    "RunIOError",
    "InternalError",
]


class SatrError(Exception):
    """Base class of every error satr raises."""


class ConfigError(SatrError, ValueError):
    """A config key, value or override is wrong (unknown key, wrong type, out of
    range); the message names the key and what is allowed."""


class UsageError(SatrError, ValueError):
    """An argument that cannot be used (``episodes=0``, say)."""


class TaskError(SatrError):
    """A task cannot be built or stepped: an unknown task name, an unsupported
    Gymnasium space, an environment that raised (then the environment's exception is
    this one's ``__cause__``), or a generation whose members all returned a
    non-finite fitness."""


class CheckpointError(SatrError):
    """A run directory or checkpoint that cannot be read or resumed."""


class EngineError(SatrError):
    """The evaluation backend failed (no GPU adapter, a lost device, a population that
    does not fit)."""


class ExportError(SatrError):
    """A policy cannot be exported in the format asked."""


class RunLockedError(SatrError):
    """Another process is training this run (it holds the run directory's lock)."""


class RunIOError(SatrError, OSError):
    """A file of the run directory cannot be read or written."""


class InternalError(SatrError):
    """A bug in satr (a Rust panic caught at the boundary); please report it."""

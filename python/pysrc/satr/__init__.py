"""satr: train binary recurrent spiking neural network (RSNN) policies with
Signal-Adaptive Trust Regions, from Python.

    import satr
    run = satr.train("gym:CartPole-v1", overrides={"generations": 30})
    print(run.metrics[-1]["eval_return"])
    run.export()                          # policy.safetensors in the run directory

:func:`train` runs satr's trainer (the Rust extension ``satr._satr``, with the GIL
released) on a built-in task, a Gymnasium environment (``"gym:<id>"``) or a callable
returning a ``gymnasium.vector.VectorEnv``, and writes the same run directory as the
``satr train`` command; :class:`Run` reads, resumes, evaluates and exports one.
:class:`Strategy` is the same optimizer as an ask/tell loop over your own
environment. Higher fitness (return) is better. :mod:`satr.policy` runs an exported policy with
numpy alone. The ``satr`` console command is the Rust command line itself.
"""

from __future__ import annotations

from . import _satr
from ._api import Run, episode_seed, tasks, train
from ._strategy import Population, Strategy
from ._errors import (
    CheckpointError,
    ConfigError,
    EngineError,
    ExportError,
    InternalError,
    RunIOError,
    RunLockedError,
    SatrError,
    TaskError,
    UsageError,
)
from .policy import SatrPolicy

__version__: str = _satr.__version__

__all__ = [
    "train",
    "Run",
    "tasks",
    "episode_seed",
    "Strategy",
    "Population",
    "SatrPolicy",
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
    "__version__",
]

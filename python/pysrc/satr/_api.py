"""Training and runs: :func:`train` and :class:`Run` over the extension module."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Mapping
from typing import Any, Callable, Optional, Union

from . import _satr
from ._errors import CheckpointError

__all__ = ["train", "Run", "tasks"]

PathLike = Union[str, "os.PathLike[str]"]
#: A task: a built-in or registered name (``"cartpole"``), ``"gym:<id>"`` (a
#: Gymnasium environment, built with ``gymnasium.make_vec(id, num_envs=...,
#: vectorization_mode="sync")``), or a callable ``num_envs -> gymnasium.vector.VectorEnv``.
Task = Union[str, Callable[[int], Any]]


def tasks() -> list[str]:
    """The task names this process can run: the built-ins, then the tasks registered
    so far (``gym:<id>`` and Python callables are registered by the first run naming
    them)."""
    return list(_satr.tasks())


def episode_seed(seed: int, generation: int, member: int, episode: int) -> int:
    """The integer seed satr gives a Python environment's ``reset(seed=...)`` for the
    episode ``(seed, generation, member, episode)`` (train members are ``0..P``, eval
    members ``P..P+E``): how a run's episodes are keyed, and how an environment of your
    own can reproduce one."""
    return int(_satr.episode_seed(seed, generation, member, episode))


def _config_args(config: Union[None, PathLike, Mapping[str, Any]]) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return {"config": dict(config)}
    if isinstance(config, (str, os.PathLike)):
        return {"config_path": os.fspath(config)}
    raise TypeError(f"config must be a TOML file path or a dict, got {type(config).__name__}")


def _overrides(overrides: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise TypeError(
            f"overrides must be a dict of dotted keys, got {type(overrides).__name__}"
        )
    return dict(overrides)


def train(
    task: Optional[Task] = None,
    *,
    config: Union[None, PathLike, Mapping[str, Any]] = None,
    overrides: Optional[Mapping[str, Any]] = None,
    backend: Optional[str] = "auto",
    out_dir: Optional[PathLike] = "runs",
    name: Optional[str] = None,
    progress: bool = True,
) -> "Run":
    """Trains a policy and returns its :class:`Run` (the run directory ``satr train``
    writes: ``config.toml``, ``metrics.jsonl``, ``checkpoints/``).

    Args:
        task: a built-in task name (``"cartpole"``, see :func:`tasks`), ``"gym:<id>"``
            for a Gymnasium environment, or a callable ``num_envs ->
            gymnasium.vector.VectorEnv``; ``None`` keeps the config's ``task``. Python
            environments need a ``Box`` observation space and a ``Discrete`` or bounded
            ``Box`` action space; their step limit is the environment spec's
            ``max_episode_steps`` (else set ``evaluation.max_episode_steps``).
        config: a TOML config file (as ``satr train --config``) or a dict of the same
            keys (sections as nested dicts); ``None``: the built-in defaults (the
            CartPole preset).
        overrides: dotted keys and values applied after the config, as ``--set``
            (``{"optimizer.epsilon": 10, "population": 64}``).
        backend: ``"auto"``, ``"gpu"`` or ``"cpu"``; replaces the config's
            ``backend`` (``None`` keeps it). This build of the package has no GPU
            backend: ``"auto"`` runs on the CPU.
        out_dir: the folder run directories are made in; replaces the config's
            ``run.out_dir`` (``None`` keeps it).
        name: the run directory's name (default: ``<task>-s<seed>-<unix time>``).
        progress: a progress bar on stderr when it is a terminal.

    The GIL is released while training. On ``KeyboardInterrupt`` (Ctrl-C) the run
    finishes its generation, writes a checkpoint and then the ``KeyboardInterrupt`` is
    raised (resume with ``Run(path).resume()``); a second one is raised at once.

    Raises:
        ConfigError: a wrong config key or value (the message names it).
        TaskError: the task cannot be built or an environment raised.
        SatrError: anything else satr reports (see ``satr._errors``).
    """
    ov = _overrides(overrides)
    if out_dir is not None:
        ov["run.out_dir"] = os.fspath(out_dir)
    if name is not None:
        ov["run.name"] = str(name)
    path = _satr.train(
        task,
        overrides=ov,
        backend=backend,
        progress=progress,
        **_config_args(config),
    )
    return Run(path)


class Run:
    """A run directory written by :func:`train` or ``satr train``.

    >>> run = satr.Run("runs/cartpole-s0-1764000000")
    >>> run.metrics[-1]["eval_return"]
    >>> run.resume(generations=80)      # continue to 80 generations in all
    >>> run.evaluate(episodes=20)["mean_return"]
    >>> run.export()                    # runs/.../policy.safetensors
    """

    def __init__(self, path: PathLike) -> None:
        self.path = pathlib.Path(path)
        """The run directory."""
        if not (self.path / "config.toml").is_file():
            raise CheckpointError(f"{self.path} is not a run directory (it has no config.toml)")

    def __repr__(self) -> str:
        return f"satr.Run({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def config(self) -> dict[str, Any]:
        """The run's resolved config (``config.toml``) as a dict."""
        return _satr.toml_loads((self.path / "config.toml").read_text())

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """One dict per generation run so far (``metrics.jsonl``, SPEC 7)."""
        path = self.path / "metrics.jsonl"
        if not path.exists():
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    @property
    def task(self) -> str:
        """The run's task name."""
        return str(self.config["task"])

    @property
    def checkpoint(self) -> pathlib.Path:
        """The latest checkpoint file (it may not exist before the first is written)."""
        return self.path / "checkpoints" / "latest.ckpt"

    def resume(
        self,
        generations: Optional[int] = None,
        *,
        task: Optional[Callable[[int], Any]] = None,
        overrides: Optional[Mapping[str, Any]] = None,
        backend: Optional[str] = None,
        progress: bool = True,
    ) -> "Run":
        """Continues the run from its latest checkpoint, bit-identically to a run that
        never stopped (``satr train --resume``), and returns it.

        Args:
            generations: the run's total number of generations (the config key
                ``generations``); ``None`` keeps the config's.
            task: for a run trained on a Python callable, the callable again (a
                ``gym:<id>`` task needs nothing).
            overrides: dotted keys changed for the rest of the run, as ``--set``.
            backend: replaces the run's ``backend`` (``None`` keeps it).
            progress: a progress bar on stderr when it is a terminal.
        """
        ov = _overrides(overrides)
        if generations is not None:
            ov["generations"] = int(generations)
        _satr.resume(str(self.path), task=task, overrides=ov, backend=backend, progress=progress)
        return self

    def evaluate(
        self,
        episodes: int = 10,
        *,
        seed: Optional[int] = None,
        backend: Optional[str] = None,
        task: Optional[Callable[[int], Any]] = None,
    ) -> dict[str, Any]:
        """Runs the latest checkpoint's mode genome over fresh episodes (``satr
        eval``) and returns its report: ``task``, ``generation``, ``episodes``,
        ``mean_return``, ``std_return``, ``min_return``, ``max_return`` and ``cost``
        (spikes and synaptic operations per step)."""
        text = _satr.evaluate(
            str(self.path), episodes=int(episodes), seed=seed, backend=backend, task=task
        )
        return json.loads(text)

    def export(
        self,
        format: str = "safetensors",
        path: Optional[PathLike] = None,
        *,
        task: Optional[Callable[[int], Any]] = None,
    ) -> pathlib.Path:
        """Writes the latest checkpoint's mode genome as ``"safetensors"`` or
        ``"nir"`` (``satr export``) to ``path`` (default: ``policy.<format>`` in the
        run directory) and returns the file's path. :class:`satr.policy.SatrPolicy`
        runs it with numpy."""
        output = None if path is None else os.fspath(path)
        text = _satr.export(str(self.path), format=format, output=output, task=task)
        return pathlib.Path(json.loads(text)["path"])

"""Ask/tell: :class:`Strategy` and :class:`Population`, the training loop with the
environment on the caller's side (over ``satr::app::strategy`` in the extension).

**Higher fitness is better** (satr maximises the return; evosax, for one, minimises).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any, Optional, Union

import numpy as np

from . import _satr
from ._errors import TaskError, UsageError

__all__ = ["Strategy", "Population"]

PathLike = Union[str, "os.PathLike[str]"]


def _space_kwargs(action_space: Any) -> dict[str, Any]:
    """The extension's action-space arguments for a Gymnasium space (Discrete, or a
    bounded Box); any other space is refused naming it."""
    name = type(action_space).__name__
    if name == "Discrete":
        if int(getattr(action_space, "start", 0)) != 0:
            raise TaskError(f"action space {action_space!r}: a Discrete space must start at 0")
        return {"discrete": int(action_space.n)}
    if name == "Box":
        low = np.asarray(action_space.low, dtype=np.float64).reshape(-1)
        high = np.asarray(action_space.high, dtype=np.float64).reshape(-1)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise TaskError(
                f"action space {action_space!r}: a Box action space must be bounded"
            )
        return {"low": low.tolist(), "high": high.tolist()}
    raise TaskError(
        f"action space {action_space!r} ({name}) is not supported: use Discrete or a bounded Box"
    )


def _obs_dim(observation_space: Any) -> int:
    name = type(observation_space).__name__
    if name != "Box":
        raise TaskError(
            f"observation space {observation_space!r} ({name}) is not supported: use a Box"
        )
    return int(math.prod(observation_space.shape))


class Population:
    """One generation's members, from :meth:`Strategy.ask`: train members
    ``0 .. train_members - 1``, then eval members (the mode genome of the
    distribution) ``train_members .. size - 1``.

    Every member starts in its episode 0; :meth:`reset` starts the next episode of the
    members it names. :meth:`act` steps every member's network one environment step.
    To reproduce satr's own evaluation, reset member ``m``'s environment with
    ``seed=population.reset_seed(m)`` (its key ``(seed, generation, member,
    episode)``), step it until it ends or the step limit, and stop calling ``act`` for
    it (``active``) once its episode is over.
    """

    def __init__(self, inner: "_satr.Population", space: tuple) -> None:
        self._inner = inner
        self._space = space

    def __repr__(self) -> str:
        return (
            f"satr.Population(generation={self.generation}, train_members="
            f"{self.train_members}, eval_members={self.eval_members})"
        )

    @property
    def size(self) -> int:
        """Members in all, ``train_members + eval_members``."""
        return int(self._inner.size)

    def __len__(self) -> int:
        return self.size

    @property
    def train_members(self) -> int:
        """Train members ``P`` (their fitness goes to :meth:`Strategy.tell`)."""
        return int(self._inner.train_members)

    @property
    def eval_members(self) -> int:
        """Eval members ``E``, all running the mode genome."""
        return int(self._inner.eval_members)

    @property
    def generation(self) -> int:
        """The generation these members belong to."""
        return int(self._inner.generation)

    @property
    def obs_dim(self) -> int:
        """Observation values per member."""
        return int(self._inner.obs_dim)

    def act(self, obs: Any, active: Any = None) -> np.ndarray:
        """Steps every member's network once (the GIL is released meanwhile).

        Args:
            obs: raw observations, an array of shape ``(size, obs_dim)`` (float32,
                float64 or uint8; more dimensions per member are flattened). Each is
                counted into this generation's observation statistics (the next
                normaliser) and normalised with the one frozen at :meth:`Strategy.ask`;
                a row with a NaN or infinite value is not counted and its network sees
                0 instead (satr's own evaluation then ranks that member last: report
                its fitness as NaN).
            active: optional bool array ``(size,)``: only these members step and are
                counted; the others' rows are ignored (members whose episode ended).

        Returns:
            int64 ``(size,)`` action indices for a Discrete space, float32
            ``(size, act_dim)`` actions scaled onto the bounds for a Box. Rows of
            inactive members are 0.

        Raises:
            UsageError: an array of the wrong shape.
        """
        a = np.asarray(obs)
        if a.ndim < 1 or a.shape[0] != self.size:
            raise UsageError(
                f"observations: expected shape ({self.size}, {self.obs_dim}) "
                f"(members, obs_dim), got {a.shape}"
            )
        a = np.ascontiguousarray(a.reshape(self.size, -1), dtype=np.float64)
        mask = None
        if active is not None:
            mask = np.ascontiguousarray(np.asarray(active, dtype=bool).reshape(-1))
        out = self._inner.act(a, mask)
        if self._space[0] == "discrete":
            return out.astype(np.int64)
        return out.reshape(self.size, self._space[1]).astype(np.float32)

    def reset(self, mask: Any = None) -> None:
        """Starts the next episode of the members ``mask`` marks (a bool array
        ``(size,)``; all of them when ``None``): their episode counter advances and
        their network state is reset as satr resets it for that episode."""
        m = None
        if mask is not None:
            m = np.ascontiguousarray(np.asarray(mask, dtype=bool).reshape(-1))
        self._inner.reset(m)

    def episode_key(self, member: int) -> tuple[int, int, int, int]:
        """``(seed, generation, member, episode)`` of the member's current episode."""
        return tuple(self._inner.episode_key(int(member)))  # type: ignore[return-value]

    def reset_seed(self, member: int) -> int:
        """A 63-bit seed for ``env.reset(seed=...)`` of the member's current episode,
        derived from its episode key (the seed ``satr.train`` gives Gymnasium)."""
        return int(self._inner.reset_seed(int(member)))


class Strategy:
    """satr's optimizer as an ask/tell loop over your own environment:

    >>> strategy = satr.Strategy(observation_space=env.single_observation_space,
    ...                          action_space=env.single_action_space,
    ...                          overrides={"population": 64})
    >>> population = strategy.ask()
    >>> actions = population.act(obs)            # obs: (population.size, obs_dim)
    >>> record = strategy.tell(returns)          # one per train member
    >>> strategy.save("ckpt")

    **Higher fitness is better.** ``tell`` takes the fitness of the train members
    (``population.train_members`` values, mean episode return in satr's own runs) and
    updates the distribution as ``satr.train`` does; driven the same way (episodes
    reset from :meth:`Population.reset_seed` keys, fitness = mean return) it reaches
    the same distribution bit for bit.

    Args:
        config: a TOML config file or a dict of its keys (``None``: the defaults);
            its ``task`` is not used.
        overrides: dotted keys applied after the config (``{"population": 64}``).
        observation_space: a Gymnasium ``Box`` (or give ``obs_dim``).
        action_space: a Gymnasium ``Discrete`` (starting at 0) or a bounded ``Box``
            (or give ``act_dim``: a Box of that many dimensions on ``[-1, 1]``).
        obs_dim: observation values per member.
        act_dim: continuous action dimensions (bounds ``[-1, 1]``).

    Raises:
        ConfigError: a wrong config key or value.
        TaskError: an unsupported space (named).
        UsageError: sizes missing or wrong.
    """

    def __init__(
        self,
        config: Union[None, PathLike, Mapping[str, Any]] = None,
        overrides: Optional[Mapping[str, Any]] = None,
        *,
        observation_space: Any = None,
        action_space: Any = None,
        obs_dim: Optional[int] = None,
        act_dim: Optional[int] = None,
        _inner: Any = None,
    ) -> None:
        self._population: Optional[Population] = None
        if _inner is not None:
            self._inner = _inner
            return
        if observation_space is not None:
            obs_dim = _obs_dim(observation_space)
        if obs_dim is None:
            raise UsageError("give observation_space or obs_dim")
        if action_space is not None:
            space = _space_kwargs(action_space)
        elif act_dim is not None:
            space = {"low": [-1.0] * int(act_dim), "high": [1.0] * int(act_dim)}
        else:
            raise UsageError("give action_space or act_dim")
        kwargs: dict[str, Any] = dict(space)
        if isinstance(config, Mapping):
            kwargs["config"] = dict(config)
        elif isinstance(config, (str, os.PathLike)):
            kwargs["config_path"] = os.fspath(config)
        elif config is not None:
            raise TypeError(f"config must be a TOML file path or a dict, got {type(config).__name__}")
        if overrides is not None:
            if not isinstance(overrides, Mapping):
                raise TypeError(f"overrides must be a dict, got {type(overrides).__name__}")
            kwargs["overrides"] = dict(overrides)
        self._inner = _satr.Strategy(int(obs_dim), **kwargs)

    def __repr__(self) -> str:
        return f"satr.Strategy(generation={self.generation}, obs_dim={self.obs_dim})"

    @property
    def generation(self) -> int:
        """Generations told so far (the next :meth:`ask` samples this one)."""
        return int(self._inner.generation)

    @property
    def env_steps(self) -> int:
        """Environment steps counted by :meth:`Population.act` over all generations."""
        return int(self._inner.env_steps)

    @property
    def finished(self) -> bool:
        """True once the config's ``generations`` (or ``run.max_env_steps``) are spent."""
        return bool(self._inner.finished)

    @property
    def obs_dim(self) -> int:
        """Observation values per member."""
        return int(self._inner.obs_dim)

    @property
    def p(self) -> np.ndarray:
        """The Bernoulli probabilities of the genome's bits (a copy)."""
        return self._inner.p

    @property
    def config(self) -> dict[str, Any]:
        """The resolved config as a dict."""
        return _satr.toml_loads(self._inner.config_toml)

    def ask(self) -> Population:
        """This generation's members (train members sampled from the distribution, eval
        members on its mode genome), each network reset for its episode 0."""
        self._population = Population(self._inner.ask(), self._inner.action_space)
        return self._population

    def tell(self, fitness: Any, eval_fitness: Any = None) -> dict[str, Any]:
        """Updates the distribution from the last :meth:`ask`'s train members' fitness
        (``train_members`` values, **higher is better**; NaN ranks last) and returns
        the generation's record: the fields of ``metrics.jsonl`` (SPEC 7) but the cost
        figures. ``eval_fitness`` (the eval members' fitness) is only reported, as
        ``eval_return``.

        Raises:
            UsageError: no :meth:`ask` before, or a fitness of the wrong length.
            TaskError: every train member's fitness is non-finite.
        """
        if self._population is None:
            raise UsageError("tell() needs the population of an ask() first")
        f = np.ascontiguousarray(np.asarray(fitness, dtype=np.float64).reshape(-1))
        e = None
        if eval_fitness is not None:
            e = np.ascontiguousarray(np.asarray(eval_fitness, dtype=np.float64).reshape(-1))
        return json.loads(self._inner.tell(self._population._inner, f, e))

    def save(self, path: PathLike) -> None:
        """Writes a checkpoint (satr's format: config, distribution, optimizer state,
        observation statistics, generation), so :meth:`load` resumes exactly."""
        self._inner.save(os.fspath(path))

    @classmethod
    def load(
        cls,
        path: PathLike,
        *,
        action_space: Any = None,
        act_dim: Optional[int] = None,
    ) -> "Strategy":
        """Continues from a checkpoint written by :meth:`save` (or by ``satr.train``;
        a run directory reads its latest checkpoint). A checkpoint holds no action
        space: give the one it was made with, or neither for a built-in task's."""
        kwargs: dict[str, Any] = {}
        if action_space is not None:
            kwargs = _space_kwargs(action_space)
        elif act_dim is not None:
            kwargs = {"low": [-1.0] * int(act_dim), "high": [1.0] * int(act_dim)}
        return cls(_inner=_satr.Strategy.load(os.fspath(path), **kwargs))

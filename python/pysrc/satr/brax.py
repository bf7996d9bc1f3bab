"""Brax (JAX) environments as satr tasks: ``task = "brax:<env>"``.

A Brax environment is functional (``reset(key) -> state``, ``step(state, action) ->
state``, the state carrying ``obs``, ``reward`` and ``done``). :class:`JaxVectorEnv`
vmaps and jits both over the members of a chunk (any such environment;
:class:`BraxVectorEnv` is Brax's by name) and presents them as a Gymnasium
``VectorEnv`` (autoreset disabled), which satr's bridge drives like any other:

- every member's episode starts from its own key: the threefry key whose two words
  are the high and low 32 bits of satr's episode seed,
  ``satr.episode_seed(seed, generation, member, episode)``, so a run is reproducible
  and resumes bit for bit on the same JAX build;
- an episode ends at ``done`` (the environment's termination) or at the step limit
  (``evaluation.max_episode_steps``, else 1000, Brax's episode length); satr then stops
  stepping the member (its slot idles, masked) until the generation's next episode;
- observations come back as numpy once per step, actions go in once per step.

Needs ``pip install ./python[brax]`` (jax and brax, pinned in ``python/pyproject.toml``;
kept apart from ``python/requirements.txt``, whose MuJoCo 3.17 Brax's mujoco 4 would
replace): ``scripts/setup_brax.sh`` makes that environment in ``.venv-brax``.
"""

from __future__ import annotations

import types
from typing import Any, Callable, Optional

import numpy as np

#: Brax's physics backends (``[brax] backend`` in a config).
BACKENDS = ("generalized", "positional", "spring", "mjx")

#: Brax's episode length, the step limit when the config sets none.
EPISODE_LENGTH = 1000

_BRAX: dict[tuple[str, str], Any] = {}
_COMPILED: dict[int, tuple[Any, Any, Any]] = {}


def _import_brax():
    try:
        import jax  # noqa: F401
        from brax import envs
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError(
            "brax tasks need jax and brax: pip install './python[brax]' "
            "(or scripts/setup_brax.sh, which makes .venv-brax)"
        ) from e
    return envs


def environments() -> list[str]:
    """The Brax environment names ``brax:<env>`` accepts (Brax's registry)."""
    envs = _import_brax()
    return sorted(envs._envs)  # the registry `envs.register_environment` fills


def _brax_env(env_name: str, backend: str):
    """Brax's environment `env_name` with physics `backend`, built once per process."""
    key = (env_name, backend)
    if key not in _BRAX:
        envs = _import_brax()
        if backend not in BACKENDS:
            raise ValueError(f"Brax backend {backend!r} is not one of {', '.join(BACKENDS)}")
        names = environments()
        if env_name not in names:
            raise ValueError(
                f"no Brax environment is registered as {env_name!r}; there are: {', '.join(names)}"
            )
        _BRAX[key] = envs.get_environment(env_name, backend=backend)
    return _BRAX[key]


def _compiled(env):
    """`env`'s reset and step, vmapped over members and jitted, once per environment
    object: every chunk size then reuses the traced functions."""
    key = id(env)
    if key not in _COMPILED:
        import jax

        _COMPILED[key] = (env, jax.jit(jax.vmap(env.reset)), jax.jit(jax.vmap(env.step)))
    return _COMPILED[key][1:]


def episode_keys(seeds: list[int]) -> np.ndarray:
    """Threefry keys (uint32 pairs) of 63-bit seeds: high word, low word."""
    s = np.asarray(seeds, dtype=np.uint64)
    return np.stack([(s >> np.uint64(32)).astype(np.uint32), (s & np.uint64(0xFFFFFFFF)).astype(np.uint32)], 1)


class JaxVectorEnv:
    """``num_envs`` copies of a functional JAX environment stepped as one jitted call,
    with the Gymnasium VectorEnv interface satr drives (``reset(seed=[...],
    options={"reset_mask": ...})``, ``step(actions)``, autoreset disabled).

    ``env`` is any object with ``reset(key) -> state``, ``step(state, action) ->
    state`` (the state carrying ``obs``, ``reward``, ``done``), ``observation_size`` and
    ``action_size`` (actions in [-1, 1]), as Brax's environments are:
    ``satr.train(lambda n: JaxVectorEnv(my_env, n))`` trains on it."""

    def __init__(self, env: Any, num_envs: int, episode_length: int = EPISODE_LENGTH, name: str = "jax"):
        import gymnasium as gym
        from gymnasium.vector import AutoresetMode

        self._env = env
        self._reset, self._step = _compiled(env)
        self.num_envs = int(num_envs)
        # Finished states step on harmlessly: satr need not reset them to step the rest.
        self.metadata = {"autoreset_mode": AutoresetMode.DISABLED, "satr_finished_steppable": True}
        self.spec = types.SimpleNamespace(id=name, max_episode_steps=episode_length)
        self.episode_length = episode_length
        obs, act = env.observation_size, env.action_size
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (obs,), np.float32)
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (act,), np.float32)
        self._state = None
        self._steps = np.zeros(self.num_envs, np.int64)
        self._rng = np.random.default_rng()

    def reset(self, *, seed: Any = None, options: Optional[dict] = None):
        """Resets the masked sub-environments (all without a mask), each from its seed
        (a list, one per sub-environment; None draws one)."""
        import jax
        import jax.numpy as jnp

        n = self.num_envs
        if isinstance(seed, (list, tuple, np.ndarray)):
            seeds = list(seed)
        else:
            seeds = [None if seed is None else int(seed) + i for i in range(n)]
        if len(seeds) != n:
            raise ValueError(f"{len(seeds)} seeds for {n} sub-environments")
        seeds = [int(self._rng.integers(2**63)) if s is None else int(s) for s in seeds]
        mask = np.ones(n, bool) if not options or "reset_mask" not in options else np.asarray(options["reset_mask"], bool)
        fresh = self._reset(jnp.asarray(episode_keys(seeds)))
        if self._state is None or mask.all():
            self._state = fresh
        else:
            m = jnp.asarray(mask)

            def pick(new, old):
                return jnp.where(m.reshape((n,) + (1,) * (new.ndim - 1)), new, old)

            self._state = jax.tree.map(pick, fresh, self._state)
        self._steps[mask] = 0
        return np.asarray(self._state.obs), {}

    def step(self, actions):
        """Steps every sub-environment; ``terminated`` is Brax's ``done``, ``truncated``
        the step limit."""
        import jax.numpy as jnp

        if self._state is None:
            raise RuntimeError("reset() before step()")
        self._state = self._step(self._state, jnp.asarray(actions, dtype=jnp.float32))
        self._steps += 1
        done = np.asarray(self._state.done) > 0
        truncated = (self._steps >= self.episode_length) & ~done
        reward = np.asarray(self._state.reward, dtype=np.float64)
        return np.asarray(self._state.obs), reward, done, truncated, {}

    def close(self):
        self._state = None


class BraxVectorEnv(JaxVectorEnv):
    """Brax's environment ``env_name`` (physics ``backend``) as a :class:`JaxVectorEnv`."""

    def __init__(
        self,
        env_name: str,
        num_envs: int,
        backend: str = "generalized",
        episode_length: int = EPISODE_LENGTH,
    ):
        super().__init__(_brax_env(env_name, backend), num_envs, episode_length, name=f"brax:{env_name}")
        self.backend = backend


def vector_env_factory(env_name: str, backend: str = "generalized") -> Callable[[int], BraxVectorEnv]:
    """``num_envs -> BraxVectorEnv``: what a ``brax:<env>`` task is built from. The
    environment is checked (name, backend) here, so a bad one fails before a run."""
    _brax_env(env_name, backend)

    def make(num_envs: int) -> BraxVectorEnv:
        return BraxVectorEnv(env_name, num_envs, backend)

    make.__qualname__ = f"brax:{env_name}"
    return make

"""Type stubs of the extension module ``satr._satr`` (python/src/lib.rs). The public
API is the Python layer (``satr.train``, ``satr.Run``); these are its building blocks."""

from collections.abc import Callable, Sequence
from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt

__version__: str

def train(
    task: Union[None, str, Callable[[int], Any]] = None,
    *,
    config_path: Optional[str] = None,
    config: Optional[dict[str, Any]] = None,
    overrides: Optional[dict[str, Any]] = None,
    backend: Optional[str] = None,
    progress: bool = True,
) -> str:
    """Trains a new run; returns its directory."""

def resume(
    path: str,
    *,
    task: Optional[Callable[[int], Any]] = None,
    overrides: Optional[dict[str, Any]] = None,
    backend: Optional[str] = None,
    progress: bool = True,
) -> str:
    """Continues the run at ``path``; returns its directory."""

def evaluate(
    path: str,
    *,
    episodes: int = 10,
    seed: Optional[int] = None,
    backend: Optional[str] = None,
    task: Optional[Callable[[int], Any]] = None,
) -> str:
    """``satr eval``'s report of the run at ``path``, as JSON text."""

def export(
    path: str,
    *,
    format: str = "safetensors",
    output: Optional[str] = None,
    task: Optional[Callable[[int], Any]] = None,
) -> str:
    """``satr export``'s report (the file written, its format, size), as JSON text."""

def tasks() -> list[str]:
    """The task names this process can run."""

def episode_seed(seed: int, generation: int, member: int, episode: int) -> int:
    """The seed satr passes to ``reset(seed=...)`` for this episode key."""

def bridge_times(reset: bool = False) -> tuple[float, float, int]:
    """Seconds inside Python vector envs' reset/step, seconds in the bridge around them,
    and the bridge's calls, since the process started or the last ``reset=True``."""

def toml_loads(text: str) -> dict[str, Any]:
    """A TOML document as a dict."""

def cli_main(argv: Sequence[str]) -> int:
    """Runs the ``satr`` command line (program name first); returns its exit status."""


class Strategy:
    """Ask/tell state (``satr.Strategy`` wraps it). Higher fitness is better."""

    def __init__(
        self,
        obs_dim: int,
        *,
        discrete: Optional[int] = None,
        low: Optional[list[float]] = None,
        high: Optional[list[float]] = None,
        config_path: Optional[str] = None,
        config: Optional[dict[str, Any]] = None,
        overrides: Optional[dict[str, Any]] = None,
    ) -> None: ...
    @staticmethod
    def load(
        path: str,
        *,
        discrete: Optional[int] = None,
        low: Optional[list[float]] = None,
        high: Optional[list[float]] = None,
    ) -> "Strategy": ...
    def save(self, path: str) -> None: ...
    def ask(self) -> "Population": ...
    def tell(
        self,
        population: "Population",
        fitness: npt.NDArray[np.float64],
        eval_fitness: Optional[npt.NDArray[np.float64]] = None,
    ) -> str:
        """The generation's record as JSON text."""
    @property
    def generation(self) -> int: ...
    @property
    def env_steps(self) -> int: ...
    @property
    def finished(self) -> bool: ...
    @property
    def obs_dim(self) -> int: ...
    @property
    def p(self) -> npt.NDArray[np.float64]: ...
    @property
    def config_toml(self) -> str: ...
    @property
    def action_space(
        self,
    ) -> tuple[str, int, Optional[list[float]], Optional[list[float]]]: ...

class Population:
    """One generation's members (``satr.Population`` wraps it)."""

    def act(
        self,
        obs: npt.NDArray[np.float64],
        active: Optional[npt.NDArray[np.bool_]] = None,
    ) -> npt.NDArray[np.float64]:
        """Actions as float64, members x action width, flat."""
    def reset(self, mask: Optional[npt.NDArray[np.bool_]] = None) -> None: ...
    def episode_key(self, member: int) -> tuple[int, int, int, int]: ...
    def reset_seed(self, member: int) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def train_members(self) -> int: ...
    @property
    def eval_members(self) -> int: ...
    @property
    def generation(self) -> int: ...
    @property
    def obs_dim(self) -> int: ...
    @property
    def action_width(self) -> int: ...

class BuiltinTask:
    """One instance of a built-in task, reset from satr's keyed reset streams."""

    def __init__(self, name: str) -> None: ...
    def reset(
        self, seed: int, generation: int, member: int, episode: int
    ) -> npt.NDArray[np.float64]: ...
    def observe(self) -> npt.NDArray[np.float64]: ...
    def step(self, action: list[float]) -> tuple[float, bool, bool]:
        """``(reward, terminated, truncated)``."""
    @property
    def obs_dim(self) -> int: ...
    @property
    def max_episode_steps(self) -> int: ...

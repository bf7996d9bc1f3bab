"""Type stubs of the extension module ``satr._satr`` (python/src/lib.rs). The public
API is the Python layer (``satr.train``, ``satr.Run``); these are its building blocks."""

from collections.abc import Callable, Sequence
from typing import Any, Optional, Union

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

def toml_loads(text: str) -> dict[str, Any]:
    """A TOML document as a dict."""

def cli_main(argv: Sequence[str]) -> int:
    """Runs the ``satr`` command line (program name first); returns its exit status."""

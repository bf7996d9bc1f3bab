#!/usr/bin/env bash
# Makes the environment `brax:<env>` tasks run in (.venv-brax; SATR_BRAX_VENV
# overrides): the satr package with its pinned `brax` extra (jax, jaxlib, brax,
# gymnasium) and pytest, apart from .venv, whose MuJoCo 3.17 Brax's mujoco 4 would
# replace. Prints the variable that points at its Python:
#
#   eval "$(scripts/setup_brax.sh)"
#   "$SATR_BRAX_PYTHON" -m pytest python/tests/test_brax.py
#
# Running it again reinstalls the package (cargo rebuilds only what changed).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${SATR_BRAX_VENV:-$root/.venv-brax}"
if [ ! -x "$venv/bin/python" ]; then
    echo "setup_brax: creating $venv" >&2
    python3 -m venv "$venv" >&2
fi
echo "setup_brax: installing ./python[brax] into $venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "$root/python[brax]" pytest==9.2.0 >&2
echo "export SATR_BRAX_PYTHON=$venv/bin/python"

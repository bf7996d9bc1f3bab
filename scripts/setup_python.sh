#!/usr/bin/env bash
# Makes the virtual environment the Python side of `satr export` runs in (pinned
# python/requirements.txt: numpy, safetensors, nir, h5py, gymnasium; tensorboard for
# tests/app/tensorboard.rs) and prints the variable that points the tests at it:
#
#   eval "$(scripts/setup_python.sh)"
#   cargo test --release --test app python_policy
#
# Running it again reuses the environment. SATR_VENV overrides its folder (default:
# <repo>/.venv). Progress goes to stderr, the export to stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${SATR_VENV:-$root/.venv}"
stamp="$venv/.satr-requirements"
if [ ! -x "$venv/bin/python" ]; then
    echo "setup_python: creating $venv" >&2
    python3 -m venv "$venv" >&2
fi
if ! cmp -s "$root/python/requirements.txt" "$stamp"; then
    echo "setup_python: installing python/requirements.txt into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$root/python/requirements.txt" >&2
    cp "$root/python/requirements.txt" "$stamp"
fi
echo "export SATR_PYTHON=$venv/bin/python"

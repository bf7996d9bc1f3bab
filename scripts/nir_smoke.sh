#!/usr/bin/env bash
# Trains a small CartPole policy, exports it as NIR, and runs it in Spyx (a JAX SNN
# framework that imports NIR) on a `satr eval` transcript, printing how often the
# framework's actions agree with satr's (docs/EXPORT.md explains why not always).
#
#   scripts/nir_smoke.sh [SATR_BINARY]
#
# The framework's virtual environment (scripts/requirements-nir-framework.txt, about
# 0.8 GB) goes to SATR_NIR_VENV (default: <repo>/target/nir-venv) and is reused.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
satr="${1:-$root/target/release/satr}"
venv="${SATR_NIR_VENV:-$root/target/nir-venv}"
req="$root/scripts/requirements-nir-framework.txt"
if ! cmp -s "$req" "$venv/.satr-requirements" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$venv/.satr-requirements"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
RUST_LOG=warn "$satr" train --quiet --backend cpu --set generations=20 \
    --set run.out_dir="\"$work\"" --set run.name='"nir"' >/dev/null
"$satr" export --checkpoint "$work/nir" --format nir -o "$work/policy.nir" >/dev/null
RUST_LOG=warn "$satr" eval --checkpoint "$work/nir" --episodes 3 --backend cpu \
    --transcript "$work/t.jsonl" >/dev/null
"$venv/bin/python" "$root/scripts/nir_framework_smoke.py" "$work/policy.nir" \
    --transcript "$work/t.jsonl"

#!/usr/bin/env bash
# Makes .venv-ppo (SATR_PPO_VENV overrides), where scripts/ppo_lstm.py runs: PPO with
# an LSTM policy (sb3-contrib's RecurrentPPO) on Gymnasium's Hopper-v5, for issue
# #21's wall-clock comparison. Pinned; not part of CI (torch and its CUDA libraries
# are several GB; the CPU runs them). Prints the variable that points at its Python:
#
#   eval "$(scripts/setup_ppo_lstm.sh)"
#   "$SATR_PPO_PYTHON" scripts/ppo_lstm.py --seed 0 --hours 2 --out ppo-s0.jsonl
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${SATR_PPO_VENV:-$root/.venv-ppo}"
if [ ! -x "$venv/bin/python" ]; then
    echo "setup_ppo_lstm: creating $venv" >&2
    python3 -m venv "$venv" >&2
fi
echo "setup_ppo_lstm: installing torch, stable-baselines3, sb3-contrib, matplotlib into $venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    torch==2.9.1 stable-baselines3==2.9.2 sb3-contrib==2.9.2 gymnasium==1.4.0 \
    mujoco==3.17.0 imageio==2.38.1 packaging==26.4 matplotlib==3.10.8 >&2
echo "export SATR_PPO_PYTHON=$venv/bin/python"

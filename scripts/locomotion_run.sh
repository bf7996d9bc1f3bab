#!/usr/bin/env bash
# Runs issue #21's sweeps in order, each resuming where it stopped: the tuning
# (configs/sweeps/locomotion/hopper-tune.toml), then, once every tuning run has finished,
# the study files it selects (scripts/locomotion_sweeps.py study, written once and
# committed), then the study at P 64 and at P 256. Re-run the same command after a stop
# (a session's end, a kill): finished runs are skipped, the others resume from their
# checkpoints. From the repository root, with a MuJoCo build copied outside target/:
#
#   cargo build --release --features mujoco && cp target/release/satr /work/bin/satr-loco
#   nohup nice -n 19 scripts/locomotion_run.sh /work/bin/satr-loco >> sweeps/locomotion/run.log 2>&1 &
#
# JOBS (default 2) runs per sweep at once; one run per core keeps wall times comparable.
set -euo pipefail
bin="${1:?usage: scripts/locomotion_run.sh SATR_BINARY (built with --features mujoco)}"
jobs="${JOBS:-2}"
cd "$(dirname "$0")/.."
eval "$(scripts/setup_mujoco.sh)"
dir=configs/sweeps/locomotion
# Runs one sweep file, then stops this script unless every run of it has finished: a
# sweep stopped by a signal checkpoints its runs and exits 0 too.
sweep() {
    echo "locomotion_run: $(date -u +%FT%TZ) $1" >&2
    "$bin" sweep "$dir/$1.toml" --jobs "$jobs"
    python3 scripts/locomotion_sweeps.py finished "sweeps/locomotion/$1" || {
        echo "locomotion_run: $1 stopped before every run finished; run this again" >&2
        exit 1
    }
}
sweep hopper-tune
if [ ! -f "$dir/hopper-p64.toml" ] || [ ! -f "$dir/hopper-p256.toml" ]; then
    python3 scripts/locomotion_sweeps.py study sweeps/locomotion/hopper-tune
    echo "locomotion_run: wrote $dir/hopper-p64.toml and hopper-p256.toml (commit them)" >&2
fi
sweep hopper-p64
sweep hopper-p256
echo "locomotion_run: $(date -u +%FT%TZ) done" >&2

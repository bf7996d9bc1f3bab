#!/usr/bin/env bash
# Behaviour check for refactors: trains the default config (seed 0, CPU), a GPU
# host-task run (8 generations) and a 2-rank MPI run (12 generations) with the
# given binaries, then compares each metrics.jsonl field for field, except the
# wall-clock fields, with the same runs of a reference build.
#   scripts/metrics_identity.sh OUT_DIR BIN [MPI_BIN]   # writes OUT_DIR/{cpu-default,gpu-host,mpi2}
#   scripts/metrics_identity.sh --compare REF_DIR NEW_DIR
set -euo pipefail
if [ "${1:-}" = "--compare" ]; then
    python3 - "$2" "$3" <<'PY'
import json, sys, pathlib
ref, new = map(pathlib.Path, sys.argv[1:3])
timing = {"wall_s", "env_steps_per_s"}
bad = 0
for run in ("cpu-default", "gpu-host", "mpi2"):
    a, b = ref / run / "metrics.jsonl", new / run / "metrics.jsonl"
    if not a.exists() or not b.exists():
        print(f"{run}: missing ({a.exists()=}, {b.exists()=})"); bad += 1; continue
    la = [json.loads(l) for l in a.read_text().splitlines()]
    lb = [json.loads(l) for l in b.read_text().splitlines()]
    strip = lambda rows: [{k: v for k, v in r.items() if k not in timing} for r in rows]
    same = strip(la) == strip(lb) and [sorted(r) for r in la] == [sorted(r) for r in lb]
    print(f"{run}: {len(la)} vs {len(lb)} generations, {'identical' if same else 'DIFFERENT'} (all fields but {sorted(timing)})")
    bad += not same
sys.exit(1 if bad else 0)
PY
    exit $?
fi
out="$1"; bin="$2"; mpi_bin="${3:-}"
mkdir -p "$out"
common=(--quiet --set "run.out_dir=\"$out\"")
rm -rf "$out/cpu-default" "$out/gpu-host" "$out/mpi2"
"$bin" train "${common[@]}" --backend cpu --set 'run.name="cpu-default"' >/dev/null
"$bin" train "${common[@]}" --backend gpu --set 'gpu.mode="host"' --set generations=8 \
    --set 'run.name="gpu-host"' >/dev/null
if [ -n "$mpi_bin" ]; then
    # --backend cpu: with `auto` a machine with a GPU would train these two on it.
    mpirun --allow-run-as-root --oversubscribe -n 2 "$mpi_bin" train "${common[@]}" \
        --backend cpu --set generations=12 --set 'run.name="mpi2"' >/dev/null
fi

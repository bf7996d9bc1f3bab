#!/usr/bin/env bash
# Soak test: for DURATION seconds, train one run after another while killing it at
# random moments (SIGKILL, or SIGTERM one time in four) and resuming it, and check
# that every run ends with the p and metrics of an uninterrupted run.
#
#   scripts/soak.sh DURATION_SECONDS [SATR_BINARY] [OUT_DIR]
#
# Prints one line per finished run and a summary (kills, resumes, runs, equal or not);
# exits non-zero on the first difference. The binary defaults to target/release/satr;
# SOAK_SEED fixes the kill schedule.
set -euo pipefail

duration=${1:?usage: scripts/soak.sh DURATION_SECONDS [SATR_BINARY] [OUT_DIR]}
bin=${2:-target/release/satr}
out=${3:-$(mktemp -d)}
mkdir -p "$out"
export RUST_LOG=error

# Pendulum episodes never end early, so a generation takes a steady few milliseconds.
common=(--set 'task="pendulum"' --set network.neurons=32 --set population=16
        --set evaluation.eval_members=2 --set generations=150 --set run.checkpoint_every=1
        --set 'backend="cpu"' --set "run.out_dir=\"$out\"")

metrics() { # the metrics lines without the fields that measure time
  python3 -c 'import json,sys
for l in open(sys.argv[1]):
    m=json.loads(l); m.pop("wall_s"); m.pop("env_steps_per_s"); print(json.dumps(m, sort_keys=True))' "$1"
}

"$bin" train --quiet --print-digest "${common[@]}" --set 'run.name="reference"' > "$out/reference.out"
want=$(grep '^p digest' "$out/reference.out")
metrics "$out/reference/metrics.jsonl" > "$out/reference.metrics"

start=$(date +%s)
seed=${SOAK_SEED:-$RANDOM}
RANDOM=$seed   # the kill schedule is reproducible with SOAK_SEED
kills=0 resumes=0 runs=0
while (( $(date +%s) - start < duration )); do
  name="soak-$runs"
  dir="$out/$name"
  finished=""
  while [[ -z $finished ]]; do
    if [[ -f $dir/checkpoints/latest.ckpt ]]; then
      cmd=("$bin" train --quiet --print-digest --resume "$dir")
      resumes=$((resumes + 1))
    else
      cmd=("$bin" train --quiet --print-digest "${common[@]}" --set "run.name=\"$name\"")
    fi
    "${cmd[@]}" > "$out/$name.out" 2> "$out/$name.err" &
    pid=$!
    # 0.05 to 3 s, then a kill unless the run already ended.
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.05 + 2.95 * r / 32767 }')"
    if kill -0 "$pid" 2> /dev/null; then
      if (( RANDOM % 4 == 0 )); then sig=TERM; else sig=KILL; fi
      kill -s "$sig" "$pid" 2> /dev/null || true
      kills=$((kills + 1))
    fi
    { wait "$pid"; } 2> /dev/null || true
    if grep -q '^p digest' "$out/$name.out" && ! grep -q 'interrupted' "$out/$name.out"; then
      finished=yes
    fi
  done
  got=$(grep '^p digest' "$out/$name.out")
  if [[ $got != "$want" ]] || ! diff -q <(metrics "$dir/metrics.jsonl") "$out/reference.metrics" > /dev/null; then
    echo "run $runs DIFFERS from the uninterrupted run: $got vs $want (see $dir)"
    echo "soak: FAILED after $kills kills, $resumes resumes, $((runs + 1)) runs"
    exit 1
  fi
  runs=$((runs + 1))
  echo "run $runs equal ($kills kills, $resumes resumes so far)"
  rm -rf "$dir" "$out/$name.out" "$out/$name.err"
done
echo "soak: $(( $(date +%s) - start )) s, $runs runs, $kills kills, $resumes resumes: every run equal to the uninterrupted one (seed $seed)"

#!/usr/bin/env bash
# One run that checks the GPU path on the machine at hand and records what it measures:
#   1. the GPU test suite against the adapter, the GPU required (SATR_REQUIRE_GPU=1);
#   2. `satr bench --backend both --mode network --json` at populations 1k, 16k, 128k
#      and 1M (N 256);
#   3. a whole CartPole generation at population 16384 on the GPU (generation mode);
#   4. a Hopper generation in host mode (the task on CPU threads), when the binary has
#      the MuJoCo tasks;
# and writes `satr info` and every record into one JSON file.
#
#   scripts/gpu_check.sh [--small] [--out FILE] [--bin SATR] [--tests DIR]
#
# --small      sizes for a software driver (populations 64 and 256, CartPole at 256):
#              CI runs this on lavapipe to prove the script works.
# --bin SATR   use this binary instead of building one (a machine without Rust).
# --tests DIR  run the prebuilt GPU test binary in DIR (the `gpu` test target, named
#              gpu or, as cargo leaves it in target/release/deps, gpu-<hash>) instead
#              of `cargo test` (a machine without Rust).
# --out FILE   the JSON file (default target/gpu_check.json).
# Needs python3 (to merge the records). Exits non-zero when any step fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
small=0
out="$root/target/gpu_check.json"
bin=""
tests=""
while [ $# -gt 0 ]; do
    case "$1" in
        --small) small=1 ;;
        --out) out="$2"; shift ;;
        --bin) bin="$2"; shift ;;
        --tests) tests="$2"; shift ;;
        *) echo "gpu_check: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
export SATR_REQUIRE_GPU=1 RUST_LOG="${RUST_LOG:-warn}"
[ -n "${XDG_RUNTIME_DIR:-}" ] || export XDG_RUNTIME_DIR="$(mktemp -d)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log() { echo "gpu_check: $*" >&2; }

if [ -z "$bin" ]; then
    log "building (cargo build --release)"
    (cd "$root" && cargo build --release --quiet)
    bin="$root/target/release/satr"
fi

log "GPU tests"
start=$(date +%s)
if [ -n "$tests" ]; then
    found=0
    for t in "$tests"/gpu "$tests"/gpu-*; do
        [ -x "$t" ] || continue
        found=1
        log "  $(basename "$t")"
        "$t" --test-threads=1 >&2
    done
    [ "$found" = 1 ] || { log "no gpu test binary in $tests"; exit 1; }
else
    (cd "$root" && cargo test --release --quiet --test gpu >&2)
fi
echo "{\"seconds\": $(( $(date +%s) - start ))}" > "$work/tests.json"

"$bin" info --json > "$work/info.json"

if [ "$small" = 1 ]; then
    populations="64 256"; steps=10; cartpole=256
else
    populations="1024 16384 131072 1048576"; steps=10; cartpole=16384
fi
i=0
for p in $populations; do
    # Fewer steps at a million members keep the CPU's share of the run to minutes.
    s=$steps; [ "$p" -ge 1000000 ] && s=2
    log "bench network, population $p, N 256, $s steps"
    "$bin" bench --backend both --mode network --json --population "$p" --neurons 256 \
        --steps "$s" --repeat 2 > "$work/bench-$i.json"
    i=$((i + 1))
done
log "a CartPole generation at population $cartpole (GPU, generation mode)"
"$bin" bench --backend gpu --mode generation --json --task cartpole \
    --population "$cartpole" --repeat 1 > "$work/cartpole.json"
if "$bin" info --json | python3 -c 'import json,sys; sys.exit(0 if "hopper" in json.load(sys.stdin)["tasks"] else 1)'; then
    hopper_pop=$([ "$small" = 1 ] && echo 16 || echo 4096)
    log "a Hopper generation at population $hopper_pop (GPU, host mode)"
    "$bin" bench --backend gpu --mode generation --gpu-mode host --json --task hopper \
        --population "$hopper_pop" --repeat 1 > "$work/hopper.json"
else
    log "no Hopper: this binary was built without --features mujoco"
    echo '{"skipped": "built without the mujoco feature"}' > "$work/hopper.json"
fi

mkdir -p "$(dirname "$out")"
python3 - "$work" "$out" "$small" <<'PY'
import glob, json, os, sys
work, out, small = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
load = lambda name: json.load(open(os.path.join(work, name)))
network = []
for f in sorted(glob.glob(os.path.join(work, "bench-*.json"))):
    network += json.load(open(f))
result = {
    "small": small,
    "info": load("info.json"),
    "gpu_tests": load("tests.json"),
    "network": network,
    "cartpole_generation": load("cartpole.json"),
    "hopper_generation": load("hopper.json"),
}
json.dump(result, open(out, "w"), indent=1)
for r in network:
    if r["backend"] == "gpu":
        cpu = [c for c in network if c["backend"] == "cpu" and c.get("propagation") == "auto"
               and c["population"] == r["population"]]
        ratio = r["synapse_substeps_per_s"] / cpu[0]["synapse_substeps_per_s"] if cpu else float("nan")
        print(f"population {r['population']:>8}: GPU {r['synapse_substeps_per_s']:.3e} synapse-substeps/s"
              f" ({r['device']}), {ratio:.2f}x the CPU")
print(f"records: {out}")
PY

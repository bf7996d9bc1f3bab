#!/usr/bin/env bash
# Fetches MuJoCo 3.17.0 (the official PyPI wheel: libmujoco.so and headers) and the
# Gymnasium 1.x MuJoCo models into a project-local folder, then prints the environment
# variables that `cargo build --features mujoco` and the built binaries need.
#
#   eval "$(scripts/setup_mujoco.sh)"
#   cargo test --release --features mujoco
#
# Only pip (to download wheels; no virtual environment, nothing installed) and python3
# (to unzip them) are used. Progress goes to stderr, the exports to stdout. Running it
# again reuses what is already there. SATR_MUJOCO_HOME overrides the folder
# (default: <repo>/.mujoco).
set -euo pipefail

MUJOCO_VERSION=3.17.0
GYMNASIUM_VERSION=1.4.0

root="$(cd "$(dirname "$0")/.." && pwd)"
home="${SATR_MUJOCO_HOME:-$root/.mujoco}"
case "$home" in /*) ;; *) home="$(pwd)/$home" ;; esac

case "$(uname -m)" in
    x86_64) platform=manylinux_2_28_x86_64 ;;
    aarch64) platform=manylinux_2_28_aarch64 ;;
    *) echo "setup_mujoco: no MuJoCo $MUJOCO_VERSION wheel for $(uname -m)" >&2; exit 1 ;;
esac

lib="$home/lib"
models="$home/models"
if [ ! -e "$lib/libmujoco.so.$MUJOCO_VERSION" ] || [ ! -e "$models/humanoid.xml" ] \
    || [ ! -e "$home/include/mujoco/mujoco.h" ]; then
    echo "setup_mujoco: downloading mujoco==$MUJOCO_VERSION and gymnasium==$GYMNASIUM_VERSION into $home" >&2
    mkdir -p "$home/wheels"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --platform "$platform" --python-version 3.11 \
        "mujoco==$MUJOCO_VERSION" "gymnasium==$GYMNASIUM_VERSION" -d "$home/wheels" >&2
    python3 - "$home" "$MUJOCO_VERSION" <<'PY'
import glob, os, shutil, sys, zipfile
home, version = sys.argv[1], sys.argv[2]
lib, models, include = (os.path.join(home, d) for d in ("lib", "models", "include"))
for d in (lib, models, include):
    os.makedirs(d, exist_ok=True)
[mj] = glob.glob(os.path.join(home, "wheels", f"mujoco-{version}-*.whl"))
[gym] = glob.glob(os.path.join(home, "wheels", "gymnasium-*.whl"))
with zipfile.ZipFile(mj) as z:
    for name in z.namelist():
        if name.startswith("mujoco/libmujoco.so"):
            target = os.path.join(lib, os.path.basename(name))
        elif name.startswith("mujoco/include/"):
            target = os.path.join(include, name[len("mujoco/include/"):])
        else:
            continue
        if name.endswith("/"):
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(name) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
assets = "gymnasium/envs/mujoco/assets/"
with zipfile.ZipFile(gym) as z:
    for name in z.namelist():
        if name.startswith(assets) and not name.endswith("/"):
            with z.open(name) as src, open(os.path.join(models, name[len(assets):]), "wb") as dst:
                shutil.copyfileobj(src, dst)
PY
    ln -sf "libmujoco.so.$MUJOCO_VERSION" "$lib/libmujoco.so"
fi

echo "export MUJOCO_DYNAMIC_LINK_DIR=$lib"
echo "export LD_LIBRARY_PATH=$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
echo "export SATR_MUJOCO_MODELS=$models"

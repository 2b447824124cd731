#!/usr/bin/env bash
# Create (or reuse) one of the two test environments in the repository root.
#
#   bash scripts/setup_env.sh ngym   -> .venv-ngym : NeuroGym 2.3.1, gymnasium 0.29.1, numpy 2.2
#   bash scripts/setup_env.sh gym1   -> .venv-gym1 : gymnasium 1.x, newest numpy, no NeuroGym,
#                                                   with the sweep backends (ray, submitit)
#
# Versions come from requirements/constraints-<env>.txt. The venv is reused when its stamp file
# matches the sha256 of everything that decides the install; otherwise it is made again from
# scratch. Set PYTHON to choose the interpreter (default: python3).
set -euo pipefail

usage() { echo "usage: $0 ngym|gym1" >&2; exit 2; }
[[ $# -eq 1 ]] || usage
ENVNAME="$1"

TORCH_SPEC="torch==2.13.0"
case "$ENVNAME" in
    ngym) EXTRAS="dev,plot,neurogym,rl" ;;
    gym1) EXTRAS="dev,plot,rl,ray,slurm" ;;
    *) usage ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV=".venv-$ENVNAME"
CONSTRAINTS="requirements/constraints-$ENVNAME.txt"
STAMP="$VENV/.setup-stamp"
PYTHON="${PYTHON:-python3}"

[[ -f "$CONSTRAINTS" ]] || { echo "setup_env: missing $CONSTRAINTS" >&2; exit 1; }
[[ -f modcog_env/__init__.py ]] || { echo "setup_env: modcog_env/__init__.py not found in $ROOT" >&2; exit 1; }

# Everything that decides what gets installed. The list of top-level packages present is part
# of it because an editable install only maps the top-level packages it saw (agents/ may appear
# later).
stamp_value() {
    {
        echo "python: $("$PYTHON" -c 'import sys; print(sys.version)')"
        echo "torch: $TORCH_SPEC"
        echo "extras: $EXTRAS"
        for d in modcog_env agents; do
            [[ -f "$d/__init__.py" ]] && echo "package: $d"
        done
        cat setup.cfg pyproject.toml "$CONSTRAINTS"
    } | sha256sum | cut -d' ' -f1
}

WANT="$(stamp_value)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] \
        && "$VENV/bin/python" -c 'import importlib.metadata as m; m.version("modcog-env")' \
            >/dev/null 2>&1; then
    echo "setup_env[$ENVNAME]: $VENV is up to date (stamp $WANT), reusing it"
    exit 0
fi

run() { echo "+ $*"; "$@"; }

START=$SECONDS
echo "setup_env[$ENVNAME]: (re)creating $VENV with $("$PYTHON" --version)"
run rm -rf "$VENV"
run "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
PIP_INSTALL=("$PY" -m pip install --quiet --progress-bar off)
run "${PIP_INSTALL[@]}" --upgrade pip
# torch first and pinned: an unpinned or ranged torch would pull a multi-GB CUDA build.
run "${PIP_INSTALL[@]}" "$TORCH_SPEC"
run "${PIP_INSTALL[@]}" -e ".[$EXTRAS]" -c "$CONSTRAINTS"

run "$PY" -c '
import gymnasium, numpy, torch
print("gymnasium", gymnasium.__version__, "| numpy", numpy.__version__, "| torch", torch.__version__)
'
if [[ "$ENVNAME" == ngym ]]; then
    run "$PY" -c 'import neurogym; print("neurogym", neurogym.__version__)'
fi
echo "$WANT" > "$STAMP"
echo "setup_env[$ENVNAME]: $VENV ready in $((SECONDS - START)) s"

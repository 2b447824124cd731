#!/usr/bin/env bash
# Lint, then run the test suite in both environments:
#   ngym : NeuroGym 2.3.1 + gymnasium 0.29.1      (ruff runs here, before pytest)
#   gym1 : gymnasium 1.x without NeuroGym
# Arguments are passed to pytest, e.g. `bash scripts/test.sh -k ring -x`.
# Exits non-zero if lint or pytest fails in either environment; pytest's exit code 5
# (no tests collected) counts as a failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup_env.sh ngym
bash scripts/setup_env.sh gym1

FAILED=()

header() {
    echo
    echo "=================================================================="
    echo "== $*"
    echo "=================================================================="
}

# ruff on the source folders that exist.
LINT_PATHS=()
for p in modcog_env agents tests examples benchmarks scripts; do
    [[ -e "$p" ]] && LINT_PATHS+=("$p")
done
header "ngym: ruff check ${LINT_PATHS[*]}"
if ! .venv-ngym/bin/python -m ruff check "${LINT_PATHS[@]}"; then
    FAILED+=("ngym:ruff")
fi

for ENVNAME in ngym gym1; do
    header "$ENVNAME: python -m pytest -q $*"
    rc=0
    ".venv-$ENVNAME/bin/python" -m pytest -q "$@" || rc=$?
    if [[ $rc -ne 0 ]]; then
        [[ $rc -eq 5 ]] && echo "test.sh: pytest collected no tests in $ENVNAME (exit 5): counted as a failure"
        FAILED+=("$ENVNAME:pytest(exit $rc)")
    fi
done

echo
if [[ ${#FAILED[@]} -gt 0 ]]; then
    echo "test.sh: FAILED: ${FAILED[*]}"
    exit 1
fi
echo "test.sh: lint and tests OK in ngym and gym1"

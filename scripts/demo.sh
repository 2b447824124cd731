#!/usr/bin/env bash
# Run the demo in the ngym environment: bash scripts/demo.sh [demo options...]
# `modcog demo` trains a small LM-RNN on six tasks (about a minute on one CPU thread), prints the
# per-task accuracy table, and writes learning_curve.png, three trial figures and the run
# (run.json, config.toml, checkpoints, metrics.jsonl; replaced by the next demo) to outputs/.
# Options: --steps, --seed, --threads, --out, --quick, --convention.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup_env.sh ngym
echo "+ .venv-ngym/bin/python -m agents.cli demo $*"
exec .venv-ngym/bin/python -m agents.cli demo "$@"

#!/usr/bin/env bash
# Run the demo in the ngym environment: bash scripts/demo.sh [demo options...]
# Figures go to outputs/ by default.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup_env.sh ngym
echo "+ .venv-ngym/bin/python -m modcog_env.cli demo $*"
exec .venv-ngym/bin/python -m modcog_env.cli demo "$@"

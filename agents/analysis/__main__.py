"""``python -m agents.analysis CHECKPOINT --task T [--out DIR]``."""

import sys

from .cli import main

sys.exit(main())

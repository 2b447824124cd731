"""``python -m modcog_env``: the ``modcog`` command line (see :mod:`modcog_env.cli`)."""

import sys

from .cli import main

sys.exit(main())

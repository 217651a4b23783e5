"""`python -m bot.cli`: the same command line as the `advisor-bot` script."""

import contextlib
import sys

from bot.cli import main

with contextlib.suppress(KeyboardInterrupt):
    sys.exit(main())

"""`python -m ecsrun.cli`: the same command as the `ecsrun` console script."""

import sys

from ecsrun.cli import main

sys.exit(main())

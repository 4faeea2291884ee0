"""`python -m dropout_viz`: see dropout_viz/cli.py."""

import sys

from dropout_viz.cli import main

sys.exit(main())

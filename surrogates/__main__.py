"""``python -m surrogates``: the command line."""

import sys

from surrogates.cli import main

sys.exit(main())

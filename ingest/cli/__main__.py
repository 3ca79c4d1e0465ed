"""`python -m ingest.cli`: the same commands as the `ingest` script."""

import sys

from . import main

sys.exit(main())

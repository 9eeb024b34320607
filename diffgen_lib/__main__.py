"""``python -m diffgen_lib`` is ``python -m diffgen_lib.book`` (list, build, run)."""

import sys

from diffgen_lib.book import main

sys.exit(main())

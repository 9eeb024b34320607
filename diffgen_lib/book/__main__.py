"""``python -m diffgen_lib.book``: the command line (``list``, ``build``, ``run``)."""

import sys

from .cli import main

sys.exit(main())

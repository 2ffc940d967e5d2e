"""python -m derive SPEC [-o FILE] [--format tex|md]: print the derivation."""

import sys

from chainrule.cli import derive_main

sys.exit(derive_main())

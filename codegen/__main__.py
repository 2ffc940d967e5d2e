"""python -m codegen SPEC [-o DIR]: write the NumPy training module."""

import sys

from chainrule.cli import codegen_main

sys.exit(codegen_main())

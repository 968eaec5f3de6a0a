"""`python -m clickpy` runs the `clickpy` command."""
import sys

from clickpy.cli import main

sys.exit(main())

"""`python -m clickpy.appliance ...` = `clickpy appliance ...`."""
import sys

from .cli import main

sys.exit(main())

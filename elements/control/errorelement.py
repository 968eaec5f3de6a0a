# EXPORT_ELEMENT Error
"""Error: a router containing it never initializes."""
from __future__ import annotations

from clickpy.element import Element


class Error(Element):
    """Error(...)

    Always fails.

    Ports: any number of inputs and outputs. Processing: agnostic.

    The Error element always fails to initialize. It accepts any
    configuration string and any connections without complaint, so a
    configuration under construction can be checked for everything else
    while it is kept from running.
    """

    port_count = "-/-"
    processing = "a/a"
    flow_code = "x/y"

    def configure(self, args) -> None:
        args.rest()          # anything goes

    def initialize(self) -> None:
        raise self.error("Error element always fails to initialize")

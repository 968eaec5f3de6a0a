# EXPORT_ELEMENT Message
"""Message: prints a message when configured."""
from __future__ import annotations

import sys

from clickpy.args import STRING, Keyword
from clickpy.element import Element


class Message(Element):
    """Message(MESSAGE [, TYPE])

    Prints a message on configuration.

    Ports: none.

    Prints MESSAGE (a string) when the router is configured: documentation a
    configuration gives its user. TYPE is MESSAGE (printed to standard
    error), WARNING (reported as a configuration warning) or ERROR (reported
    as an error: the router fails to initialize).

    Example:
      Message("This configuration is deprecated; use router.click instead.", WARNING)
    """

    port_count = "0/0"

    def configure(self, args) -> None:
        message = args.read_mp("MESSAGE", STRING)
        kind = args.read_p("TYPE", Keyword("MESSAGE", "WARNING", "ERROR"), "MESSAGE")
        if kind == "ERROR":
            raise self.error(message)
        if kind == "WARNING":
            self.warn(message)
        else:
            print(message, file=sys.stderr, flush=True)

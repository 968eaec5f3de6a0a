# EXPORT_ELEMENT DriverManager
"""DriverManager: a Script of TYPE DRIVER."""
from __future__ import annotations

from clickpy.elements.control.script import Script


class DriverManager(Script):
    """DriverManager(INSTRUCTIONS...)

    A Script that manages driver stop events.

    Ports: none.

    DriverManager is a Script whose TYPE defaults to DRIVER. Elements ask
    the driver to stop when they are done (InfiniteSource with STOP true, a
    trace reader at the end of its file, a Script's `stop`): a driver stop
    event. Without a DriverManager the first event stops the driver. With
    one, each event steps its script instead, and the driver stops only when
    the script reaches `stop` or its end (or `end`, `exit`, `error`).

    Its instructions are Script's; the ones that matter here:
      pause [N], wait_stop [N]   wait for N stop events (1)
      wait TIME, wait_time TIME  wait TIME seconds (the driver keeps running)
      stop                       stop the driver now
      write HANDLER [ARGS], read HANDLER [ARGS], print [TEXT|HANDLER]
      loop, label L, goto L [COND]

    With no instructions, DriverManager waits for one stop event and stops:
    the driver's own behaviour.

    Handlers: as Script (step, goto, run, arithmetic).

    Example:
      // let a second source finish, flush, then stop
      DriverManager(wait_stop 2, write k.flush, wait 0.1s, stop);
    """

    default_type = "DRIVER"

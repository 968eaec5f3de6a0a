"""Hot reconfiguration: replace a running router's configuration without
stopping it (Click's `hotconfig` handler, and SIGHUP to re-read the file).

    live = LiveRouter(router, config_file="router.click", allow_hotconfig=True)
    live.run()                       # runs router, then each replacement
    pending = live.reconfigure(text) # or write the `hotconfig` handler
    live.cleanup()

How a swap goes (the protocol elements implement is in DESIGN.md, "Hot
reconfiguration"):

1. A builder thread parses the new text and builds a complete Router from
   it: instantiated, configured, connected and initialized, sharing the
   running router's PacketPool (`Router(graph, pool=old.pool,
   hotswap_router=old)`). The old router keeps forwarding meanwhile; the
   builder only takes the GIL in short slices (the switch interval is
   lowered while it runs), so forwarding slows but does not stop.
2. Any error (syntax, unknown class, bad argument, a failed initialize)
   cleans up the half-built router, leaves the old one running untouched,
   and is reported: to the client that wrote `hotconfig` (code 520 and the
   messages), or on standard error for SIGHUP.
3. Success wakes the driver through an eventfd. Between two task rounds, in
   the driver's thread, with no batch in flight: for every element of the
   new router whose name and class match an element of the old one,
   `new.take_state(old)` moves its state (queued packets, counters, tables,
   sockets and clients). Then the old driver loop ends, the old router is
   cleaned up (freeing whatever state was not taken: no buffer is lost, they
   share one pool) and the new driver loop starts. Forwarding stalls only
   for this step; `hotconfig_status` reports how long it took.
"""
from __future__ import annotations

import _signal          # the C half of `signal`, loaded with Python: no start-up cost
import _thread
import gc
import os
import sys
import time

from _signal import SIGHUP, SIGINT, SIGTERM


# Switch interval while a builder thread runs: how long the driver may wait
# for the GIL when the builder holds it.
BUILD_SWITCH_INTERVAL = 0.0005


class LiveRouter:
    """Runs a router and the routers that replace it."""

    def __init__(self, router, *, config_file: str | None = None, allow_hotconfig: bool = False,
                 defines: dict[str, str] | None = None, search_path: list[str] | None = None,
                 warnings: bool = True, log=None, graph_hook=None) -> None:
        self.router = router
        self.config_file = config_file
        self.allow_hotconfig = allow_hotconfig
        self.defines = defines
        self.search_path = search_path
        self.warnings = warnings
        # applied to every new configuration's graph (the command line's -p/-u
        # control sockets belong to each configuration, as in Click)
        self.graph_hook = graph_hook
        self.log = log or (lambda msg: print(f"clickpy: {msg}", file=sys.stderr, flush=True))
        self.swaps = 0
        self.failed_swaps = 0
        self.last_error = ""
        self.last_swap_start_ns = 0
        self.last_stall_ns = 0
        self._retired = None                 # the replaced router, cleaned before the next run
        self._gc_was_enabled = True
        self._builder = None                 # the builder thread while one runs
        self._built = None                   # (router or None, messages, pending) from the builder
        self._eventfd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.on_install: list = []           # callables(router): serve from each new router too
        self._install(router)
        # long-lived objects (modules, the router) leave the collector's full
        # passes, which would otherwise pause forwarding for milliseconds
        gc.freeze()

    # ---- handlers and callbacks on each router we run ----------------------------
    def _install(self, router) -> None:
        if self.allow_hotconfig:
            router.add_global_handler("hotconfig", write=self._hotconfig_handler)
        router.add_global_handler("hotconfig_status", read=self._status)
        previous = router.driver.signal_callback

        def on_signal(signo: int, previous=previous) -> bool:
            if previous is not None and previous(signo):
                return True
            if signo == SIGHUP:
                self._reload_file()
                return True
            return False
        router.driver.signal_callback = on_signal
        router.driver.add_select(self._eventfd, 1, self._on_built)

    def _status(self) -> str:
        if self.swaps and self.router.driver.started_ns >= self.last_swap_start_ns:
            self.last_stall_ns = self.router.driver.started_ns - self.last_swap_start_ns
        return (f"swaps {self.swaps}\nfailed {self.failed_swaps}\n"
                f"building {'true' if self._builder is not None else 'false'}\n"
                f"last_stall_us {self.last_stall_ns / 1000:.1f}\n"
                f"last_error {self.last_error.splitlines()[0] if self.last_error else ''}")

    def _hotconfig_handler(self, text: str):
        return self.reconfigure(text, "<hotconfig>")

    def _reload_file(self) -> None:
        if not self.config_file or self.config_file == "-":
            self.log("SIGHUP: no configuration file to re-read")
            return
        try:
            with open(self.config_file, "rb") as f:
                text = f.read().decode("utf-8", "surrogateescape")
        except OSError as e:
            self.log(f"SIGHUP: {self.config_file}: {e.strerror}; keeping the running configuration")
            return
        pending = self.reconfigure(text, self.config_file)
        pending.add_done_callback(self._log_result)

    def _log_result(self, p) -> None:
        if p.ok:
            self.log("reconfigured" + (": " + "; ".join(p.messages) if p.messages else ""))
        else:
            self.log("reconfiguration failed, the old configuration keeps running:\n  "
                     + "\n  ".join(p.messages))

    # ---- building ------------------------------------------------------------------
    def reconfigure(self, text: str, filename: str = "<hotconfig>"):
        """Start replacing the configuration with `text`; the Pending resolves
        (in the driver's thread, while the router runs) when the new one runs
        or the attempt failed."""
        from clickpy.control import Pending
        import threading
        pending = Pending()
        if self._builder is not None:
            pending.resolve(False, ["a reconfiguration is already in progress"])
            return pending
        # No collector pass while the builder runs or during the swap: a full
        # pass holds the GIL for milliseconds, and the builder makes the
        # garbage that would trigger it. It comes back once the new router
        # runs (or the attempt failed).
        self._gc_was_enabled = gc.isenabled()
        gc.disable()
        # Short GIL slices from now on (set here, not in the builder: a thread
        # already waiting for the GIL keeps the interval it started with)
        self._saved_switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(BUILD_SWITCH_INTERVAL)
        self._builder = threading.Thread(target=self._build, args=(text, filename, pending),
                                         name="clickpy-hotconfig", daemon=True)
        self._builder.start()
        return pending

    def _build(self, text: str, filename: str, pending) -> None:
        from clickpy import registry
        from clickpy.control import _error_lines
        from clickpy.lang import parse_config
        from clickpy.lang.graph import ConfigError
        from clickpy.router import Router
        old = self.router
        result = None
        try:
            graph = parse_config(text, filename, defines=self.defines, search_path=self.search_path,
                                 is_class=registry.has_class)
            if self.graph_hook is not None:
                self.graph_hook(graph)
            new = Router(graph, pool=old.pool, hotswap_router=old, config_text=text, warnings=False)
            messages = [d.format() for d in list(graph.warnings) + list(new.warnings)]
            result = (new, messages, pending)
        except (ConfigError, ValueError, OSError) as e:
            result = (None, _error_lines(e), pending)
        except Exception as e:     # a bug, but still a message for the user, never a crash
            result = (None, [f"internal error: {type(e).__name__}: {e}"], pending)
        finally:
            self._built = result
            os.eventfd_write(self._eventfd, 1)

    def _on_built(self, events: int) -> None:
        """The builder finished (driver thread, between task rounds)."""
        try:
            os.eventfd_read(self._eventfd)
        except BlockingIOError:
            return
        if self._builder is not None:
            self._builder.join()
            sys.setswitchinterval(self._saved_switch_interval)
        self._builder = None
        built, self._built = self._built, None
        if built is None:
            return
        new, messages, pending = built
        if new is None:
            self.failed_swaps += 1
            self.last_error = "\n".join(messages)
            if self._gc_was_enabled:
                gc.enable()
            pending.resolve(False, messages)
            return
        self._swap(new, messages, pending)

    def _swap(self, new, messages: list[str], pending) -> None:
        old = self.router
        self.last_swap_start_ns = time.monotonic_ns()
        notes = list(messages)
        for elem in new.elements:
            prev = old.element(elem.name)
            if prev is None or type(prev) is not type(elem):
                continue
            try:
                elem.take_state(prev)
            except Exception as e:  # the element keeps its fresh state; say so
                notes.append(f"{elem.name}: state not carried over: {e}")
        new.hotswap_router = None
        old.driver.remove_select(self._eventfd)
        self.router = new
        self._retired = old
        self._install(new)
        for hook in self.on_install:
            hook(new)
        self.swaps += 1
        self.last_error = ""
        old.driver.stop()                 # the run loop goes on with `new`
        pending.resolve(True, notes)

    # ---- running ---------------------------------------------------------------------
    def run(self, timeout: float | None = None, handle_signals: bool = True) -> None:
        """Run until stopped; a successful reconfiguration continues with the new router."""
        deadline = None if timeout is None else time.monotonic() + timeout
        # Keep the driver's signals blocked between two routers' loops too (each
        # loop unblocks them when it ends): one arriving during a swap then waits
        # for the new loop's signalfd instead of killing the process. As the
        # driver does, handle signals only in the process's main thread.
        saved_mask = None
        if handle_signals and _thread.get_native_id() == os.getpid():
            saved_mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, {SIGINT, SIGTERM, SIGHUP})
        try:
            while True:
                router = self.router
                remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                router.run(timeout=remaining, handle_signals=handle_signals)
                if self.router is router:
                    return
                self._retire()
                if self._gc_was_enabled:
                    self._enable_gc_when_running(self.router)
                if deadline is not None and time.monotonic() >= deadline:
                    return
        finally:
            if saved_mask is not None:
                _signal.pthread_sigmask(_signal.SIG_SETMASK, saved_mask)

    def _enable_gc_when_running(self, router) -> None:
        """Re-enable the collector from the new router's first timer round."""
        def enable() -> None:
            gc.freeze()       # the new router's objects live long: keep them out of full collections
            gc.enable()
        owner = next(iter(router.elements), None)
        if owner is None:
            enable()
            return
        owner.add_timer(enable).schedule_after(0)

    def _retire(self) -> None:
        old, self._retired = self._retired, None
        if old is not None:
            try:
                old.cleanup()
            except Exception as e:
                self.log(f"cleaning up the replaced configuration: {e}")

    def cleanup(self) -> None:
        """Clean up the running router and anything a swap left half-done."""
        if self._builder is not None:
            self._builder.join()
            self._builder = None
            sys.setswitchinterval(self._saved_switch_interval)
        built, self._built = self._built, None
        if built is not None:
            new, _, pending = built
            if new is not None:
                new.cleanup()
            pending.resolve(False, ["the router stopped before the new configuration was installed"])
        if self._gc_was_enabled:
            gc.enable()
        self._retire()
        try:
            self.router.cleanup()
        finally:
            if self._eventfd >= 0:
                try:
                    self.router.driver.remove_select(self._eventfd)
                except Exception:
                    pass
                os.close(self._eventfd)
                self._eventfd = -1

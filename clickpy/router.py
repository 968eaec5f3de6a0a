"""Build, check, run and inspect a router from a flat graph (cold code).

Router.from_string / from_file parse a config; Router(graph) takes a
FlatGraph built any way (see clickpy.graph_builder for a Python builder).
Steps, as in Click: instantiate -> port counts -> push/pull resolution ->
configure -> connect -> initialize; every error names the element and its
config location, all errors of a step are reported together, and a failure
leaves nothing open.
"""
from __future__ import annotations

import sys

from clickpy import registry
from clickpy.lang.graph import ConfigError, Diagnostic, FlatGraph, Location, NOWHERE
from clickpy.ports import AGNOSTIC, PULL, PUSH, UNLIMITED, flow_links, parse_port_count, parse_processing

VERSION = "0.1.0"

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from collections.abc import Callable

# Called with every new router before it is built (tests use it to check
# that each router's pool is whole after cleanup).
router_created_hooks: list[Callable[["Router"], None]] = []


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict = {}
        self.kind: dict = {}

    def add(self, key, kind: str) -> None:
        self.parent[key] = key
        self.kind[key] = kind if kind != AGNOSTIC else None

    def find(self, key):
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a, b) -> bool:
        """Merge; False if the two sides are fixed to different kinds."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ka, kb = self.kind[ra], self.kind[rb]
        if ka and kb and ka != kb:
            return False
        self.parent[rb] = ra
        self.kind[ra] = ka or kb
        return True

    def resolved(self, key) -> str:
        return self.kind[self.find(key)] or PUSH


class Router:
    def __init__(self, graph: FlatGraph, *, pool=None, pool_size: int | None = None,
                 big_pool_size: int | None = None, warnings: bool = True,
                 config_text: str | None = None, hotswap_router: "Router | None" = None,
                 initialize: bool = True) -> None:
        from clickpy.element import Scheduler
        from clickpy.driver import Driver

        self.graph = graph
        self.config_text = config_text
        # The running router this one will replace (hot reconfiguration): elements
        # that hold exclusive resources (listening sockets, devices) look for their
        # same-named predecessor here in initialize and take its resource in take_state.
        self.hotswap_router = hotswap_router
        self.show_warnings = warnings
        self.warnings: list[Diagnostic] = []
        self.elements: list = []
        self.by_name: dict[str, object] = {}
        self.scheduler = Scheduler()
        self.driver = Driver(self.scheduler)
        self.pool = pool
        self.pool_size = pool_size
        self.big_pool_size = big_pool_size
        # False (`clickpy check`, as click-check): configure and connect, but
        # open no device and start nothing; the router cannot run
        self.initialize_elements = initialize
        self._initialized: list = []
        self._inputs: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self._outputs: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self._cleaned = False
        self._global_read: dict[str, Callable[[], str]] = {}
        self._global_write: dict[str, Callable[[str], None]] = {}
        for hook in router_created_hooks:
            hook(self)
        try:
            self._build()
        except BaseException:
            self.cleanup()
            raise

    # ---- construction --------------------------------------------------------
    @classmethod
    def from_graph(cls, graph: FlatGraph, **kwargs) -> "Router":
        return cls(graph, **kwargs)

    @classmethod
    def from_string(cls, text: str, filename: str = "<config>", *, defines: dict[str, str] | None = None,
                    search_path: list[str] | None = None, **kwargs) -> "Router":
        from clickpy.lang import parse_config
        graph = parse_config(text, filename, defines=defines, search_path=search_path,
                             is_class=registry.has_class)
        return cls(graph, config_text=text, **kwargs)

    @classmethod
    def from_file(cls, path: str, *, defines: dict[str, str] | None = None,
                  search_path: list[str] | None = None, **kwargs) -> "Router":
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError as e:
            raise ConfigError(f"{path}: {e.strerror}") from None
        return cls.from_string(text, path, defines=defines, search_path=search_path, **kwargs)

    def _build(self) -> None:
        self._instantiate()
        self._check_ports()
        self._configure()
        self._make_pool()
        self._connect()
        if self.initialize_elements:
            self._initialize()
        self._add_global_handlers()

    def _instantiate(self) -> None:
        errors: list[Diagnostic] = []
        seen: set[str] = set()
        for decl in self.graph.elements:
            if decl.name in seen:
                errors.append(Diagnostic(decl.location, f"redeclaration of element '{decl.name}'"))
                continue
            seen.add(decl.name)
            cls = None
            try:
                cls = registry.lookup(decl.class_name)
            except ImportError as e:
                errors.append(Diagnostic(decl.location, f"class '{decl.class_name}' cannot be loaded: {e}"))
                continue
            if cls is None:
                hint = registry.suggest(decl.class_name)
                more = f" (did you mean '{hint}'?)" if hint else ""
                errors.append(Diagnostic(decl.location, f"unknown element class '{decl.class_name}'{more}"))
                continue
            elem = cls()
            elem._setup(decl.name, self, len(self.elements), decl.config, decl.location, None)
            self.elements.append(elem)
            self.by_name[decl.name] = elem
        for conn in self.graph.connections:
            for name in (conn.from_elem, conn.to_elem):
                if name not in seen:
                    errors.append(Diagnostic(conn.location, f"undeclared element '{name}'"))
        if errors:
            raise ConfigError(errors)

    @staticmethod
    def _describe(elem) -> str:
        return f"'{elem.name} :: {type(elem).__name__}'"

    def _check_ports(self) -> None:
        errors: list[Diagnostic] = []
        conns = [c for c in self.graph.connections if c.from_elem in self.by_name and c.to_elem in self.by_name]
        for c in conns:
            self._outputs.setdefault((c.from_elem, c.from_port), []).append((c.to_elem, c.to_port))
            self._inputs.setdefault((c.to_elem, c.to_port), []).append((c.from_elem, c.from_port))
        used_in: dict[str, int] = {}
        used_out: dict[str, int] = {}
        for c in conns:
            used_out[c.from_elem] = max(used_out.get(c.from_elem, 0), c.from_port + 1)
            used_in[c.to_elem] = max(used_in.get(c.to_elem, 0), c.to_port + 1)
        counts: dict[str, tuple[int, int]] = {}
        for elem in self.elements:
            try:
                in_range, out_range = parse_port_count(type(elem).port_count)
            except ValueError as e:
                errors.append(Diagnostic(elem.location, f"{self._describe(elem)}: {e}"))
                continue
            nin = max(used_in.get(elem.name, 0), in_range.lo)
            lo, hi = in_range.bounds(0)
            if nin > hi:
                errors.append(Diagnostic(elem.location,
                    f"{self._describe(elem)} has {nin} inputs but allows {in_range.describe()}"))
                nin = hi
            out_lo, out_hi = out_range.bounds(nin)
            nout = max(used_out.get(elem.name, 0), out_lo)
            if nout > out_hi:
                errors.append(Diagnostic(elem.location,
                    f"{self._describe(elem)} has {nout} outputs but allows {out_range.describe(nin)}"))
                nout = out_hi
            counts[elem.name] = (nin, nout)
            for port in range(nin):
                if (elem.name, port) not in self._inputs:
                    errors.append(Diagnostic(elem.location, f"{self._describe(elem)} input {port} is not connected"))
            for port in range(nout):
                if (elem.name, port) not in self._outputs:
                    errors.append(Diagnostic(elem.location, f"{self._describe(elem)} output {port} is not connected"))
        # push/pull resolution (Click: agnostic ports take the kind of what they meet)
        uf = _UnionFind()
        kinds: dict[str, tuple[list[str], list[str]]] = {}
        for elem in self.elements:
            if elem.name not in counts:
                continue
            nin, nout = counts[elem.name]
            try:
                ins, outs = parse_processing(type(elem).processing, nin, nout)
                links = flow_links(type(elem).flow_code, nin, nout)
            except ValueError as e:
                errors.append(Diagnostic(elem.location, f"{self._describe(elem)}: {e}"))
                continue
            kinds[elem.name] = (ins, outs)
            for i, k in enumerate(ins):
                uf.add((elem.name, "in", i), k)
            for j, k in enumerate(outs):
                uf.add((elem.name, "out", j), k)
            for i, reach in enumerate(links):
                for j in reach:
                    if ins[i] == AGNOSTIC and outs[j] == AGNOSTIC:
                        if not uf.union((elem.name, "in", i), (elem.name, "out", j)):
                            errors.append(Diagnostic(elem.location,
                                f"{self._describe(elem)}: agnostic input {i} and output {j} are forced to be both push and pull"))
        for c in conns:
            if c.from_elem not in kinds or c.to_elem not in kinds:
                continue
            a, b = (c.from_elem, "out", c.from_port), (c.to_elem, "in", c.to_port)
            if a not in uf.parent or b not in uf.parent:
                continue
            if not uf.union(a, b):
                src, dst = self.by_name[c.from_elem], self.by_name[c.to_elem]
                errors.append(Diagnostic(c.location,
                    f"{uf.resolved(a)} output {c.from_port} of {self._describe(src)} connected to "
                    f"{uf.resolved(b)} input {c.to_port} of {self._describe(dst)}".replace("h output", "push output")
                    .replace("l output", "pull output").replace("h input", "push input").replace("l input", "pull input")))
        for (name, port), targets in self._outputs.items():
            if name in kinds and (name, "out", port) in uf.parent and uf.resolved((name, "out", port)) == PUSH and len(targets) > 1:
                elem = self.by_name[name]
                loc = self._connection_location(name, port, out=True)
                errors.append(Diagnostic(loc, f"push output {port} of {self._describe(elem)} is connected more than once"))
        for (name, port), sources in self._inputs.items():
            if name in kinds and (name, "in", port) in uf.parent and uf.resolved((name, "in", port)) == PULL and len(sources) > 1:
                elem = self.by_name[name]
                loc = self._connection_location(name, port, out=False)
                errors.append(Diagnostic(loc, f"pull input {port} of {self._describe(elem)} is connected more than once"))
        if errors:
            raise ConfigError(errors)
        for elem in self.elements:
            nin, nout = counts[elem.name]
            in_push = [uf.resolved((elem.name, "in", i)) == PUSH for i in range(nin)]
            out_push = [uf.resolved((elem.name, "out", j)) == PUSH for j in range(nout)]
            elem._set_ports(nin, nout, in_push, out_push)

    def _connection_location(self, name: str, port: int, out: bool) -> Location:
        found = [c.location for c in self.graph.connections
                 if (out and c.from_elem == name and c.from_port == port)
                 or (not out and c.to_elem == name and c.to_port == port)]
        return found[-1] if found else self.by_name[name].location

    def _configure(self) -> None:
        from clickpy.args import Args
        errors: list[Diagnostic] = []
        for elem in sorted(self.elements, key=lambda e: type(e).configure_phase):
            args = Args(elem.config_string, context=f"{elem.name} :: {type(elem).__name__}",
                        location=elem.location, resolver=self._resolve_element,
                        names=lambda text, kinds, elem=elem: self._address_name(elem, text, kinds))
            try:
                elem.configure(args)
                args.complete()
            except ConfigError as e:
                errors.extend(e.diagnostics)
            except (ValueError, TypeError, OverflowError) as e:
                errors.append(Diagnostic(elem.location, f"{elem.name} :: {type(elem).__name__}: {e}"))
        if errors:
            raise ConfigError(errors)

    def _address_name(self, elem, text: str, kinds: tuple) -> str | None:
        """An address for a mnemonic name, from the AddressInfo elements whose
        compound contains elem (innermost first), as Click's AddressInfo."""
        scope = elem.name
        while True:
            scope = scope.rpartition("/")[0]
            for info in self.elements:
                if hasattr(info, "lookup_address") and info.name.rpartition("/")[0] == scope:
                    found = info.lookup_address(text, kinds)
                    if found is not None:
                        return found
            if not scope:
                return None

    def _resolve_element(self, name: str):
        elem = self.by_name.get(name)
        if elem is None:
            raise ConfigError(f"no element named '{name}'")
        return elem

    def _make_pool(self) -> None:
        from clickpy.packet import PacketPool, DEFAULT_POOL_SIZE, DEFAULT_BIG_POOL_SIZE
        if self.pool is None:
            self.pool = PacketPool(self.pool_size or DEFAULT_POOL_SIZE,
                                   DEFAULT_BIG_POOL_SIZE if self.big_pool_size is None else self.big_pool_size)
        for elem in self.elements:
            elem.pool = self.pool

    def _connect(self) -> None:
        for (name, port), targets in self._outputs.items():
            src = self.by_name[name]
            if src.output_is_push(port):
                tname, tport = targets[0]
                src._connect_output(port, self.by_name[tname], tport)
        for (name, port), sources in self._inputs.items():
            dst = self.by_name[name]
            if dst.input_is_pull(port):
                sname, sport = sources[0]
                dst._connect_input(port, self.by_name[sname], sport)

    def _initialize(self) -> None:
        for elem in sorted(self.elements, key=lambda e: type(e).configure_phase):
            try:
                elem.initialize()
            except ConfigError:
                raise
            except OSError as e:
                raise ConfigError(f"{elem.name} :: {type(elem).__name__}: {e.strerror or e}", elem.location) from None
            except (ValueError, RuntimeError, MemoryError) as e:
                raise ConfigError(f"{elem.name} :: {type(elem).__name__}: {e}", elem.location) from None
            finally:
                self._initialized.append(elem)
        for elem in self.elements:
            elem._setup_handlers()

    # ---- notifiers -----------------------------------------------------------
    def _notifier_signal(self, elem, port: int, upstream: bool):
        """Combine the notifiers reachable from elem's input (upstream) or output
        (downstream) through pass-through ports, as Click's
        Notifier::upstream_empty_signal / downstream_full_signal do."""
        from clickpy.element import NotifierSignal
        signal = NotifierSignal()
        seen: set = set()
        stack = [(elem.name, port)]
        while stack:
            name, p = stack.pop()
            peers = self._inputs.get((name, p), []) if upstream else self._outputs.get((name, p), [])
            for peer_name, peer_port in peers:
                if (peer_name, peer_port) in seen:
                    continue
                seen.add((peer_name, peer_port))
                peer = self.by_name[peer_name]
                notifier = peer.empty_notifier() if upstream else peer.full_notifier()
                if notifier is not None:
                    signal.add(notifier)
                    continue
                links = flow_links(type(peer).flow_code, peer.ninputs, peer.noutputs)
                if upstream:
                    nexts = [i for i in range(peer.ninputs) if peer_port in links[i] and peer.input_is_pull(i)]
                    pass_through = peer.output_is_pull(peer_port)
                else:
                    nexts = [o for o in (links[peer_port] if peer_port < len(links) else []) if peer.output_is_push(o)]
                    pass_through = peer.input_is_push(peer_port)
                if not pass_through or not nexts:
                    signal.always = True
                    continue
                stack.extend((peer_name, q) for q in nexts)
        return signal

    # ---- running ---------------------------------------------------------------
    def please_stop(self) -> None:
        self.driver.please_stop()

    def stop(self) -> None:
        self.driver.stop()

    def run(self, timeout: float | None = None, handle_signals: bool = True) -> None:
        """Run until the config stops itself, a stop request, SIGINT/SIGTERM, or timeout."""
        if self._cleaned:
            raise RuntimeError("router already cleaned up")
        if not self.initialize_elements:
            raise RuntimeError("router built with initialize=False (a check) cannot run")
        self.driver.reset_stop()
        try:
            self.driver.run(timeout, handle_signals)
        finally:
            self._check_pool_errors()

    def _check_pool_errors(self) -> None:
        if self.pool is not None and self.pool.debug_errors:
            self.pool.raise_debug_errors()

    def cleanup(self) -> None:
        """Clean up every initialized element (freeing queued packets); idempotent."""
        if self._cleaned:
            return
        self._cleaned = True
        errors = []
        for elem in reversed(self._initialized):
            try:
                elem.cleanup()
            except Exception as e:  # keep cleaning the rest
                errors.append(f"{elem.name}: {e}")
        self._initialized.clear()
        for (fd, _) in list(getattr(self.driver, "selects", {}).items()):
            self.driver.remove_select(fd)
        if errors:
            raise RuntimeError("cleanup failed: " + "; ".join(errors))

    def __enter__(self) -> "Router":
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def warning(self, elem, message: str) -> None:
        loc = elem.location if elem is not None else NOWHERE
        name = f"{elem.name} :: {type(elem).__name__}: " if elem is not None else ""
        d = Diagnostic(loc, name + message, "warning")
        self.warnings.append(d)
        if self.show_warnings:
            print(d.format(), file=sys.stderr)

    # ---- handlers --------------------------------------------------------------
    def element(self, name: str):
        return self.by_name.get(name)

    def _connections_to(self, elem, port: int) -> list[tuple[str, int]]:
        return self._inputs.get((elem.name, port), [])

    def _connections_from(self, elem, port: int) -> list[tuple[str, int]]:
        return self._outputs.get((elem.name, port), [])

    def _add_global_handlers(self) -> None:
        def unparse(graph):
            from clickpy.lang import unparse as unparse_graph
            return unparse_graph(graph)
        r = self._global_read
        r["version"] = lambda: VERSION
        r["list"] = lambda: "\n".join([str(len(self.elements))] + [e.name for e in self.elements])
        r["classes"] = lambda: "\n".join(registry.class_names())
        r["config"] = lambda: self.config_text if self.config_text is not None else unparse(self.graph)
        r["flatconfig"] = lambda: unparse(self.graph)
        r["requirements"] = lambda: "\n".join(self.graph.requirements)
        r["handlers"] = lambda: "\n".join(
            f"{n}\t{'r' if n in r else ''}{'w' if n in self._global_write else ''}"
            for n in sorted(set(r) | set(self._global_write)))
        r["pool"] = lambda: "\n".join(f"{k}\t{v}" for k, v in self.pool.stats().items())
        r["pool_size"] = lambda: self.pool.size
        r["pool_free"] = lambda: self.pool.free_count
        r["runcount"] = lambda: self.driver.runcount
        r["run_seconds"] = lambda: f"{self.driver.run_seconds:.9f}"
        self._global_write["stop"] = lambda value: self.driver.stop()

    def add_global_handler(self, name: str, read: Callable | None = None,
                           write: Callable | None = None) -> None:
        """Add (or replace) a global handler such as `hotconfig`."""
        if read is not None:
            self._global_read[name] = read
        if write is not None:
            self._global_write[name] = write

    def has_global_handler(self, name: str, write: bool = False) -> bool:
        return name in (self._global_write if write else self._global_read)

    def read_handler_of(self, elem, name: str, params: str = "") -> str:
        """Read handler `name` of elem (None: a global handler), with Click's parameters."""
        from clickpy.element import HandlerError
        if elem is not None:
            return elem.read_handler(name, params)
        fn = self._global_read.get(name)
        if fn is None:
            raise HandlerError(f"no read handler '{name}'")
        if params:
            raise HandlerError(f"read handler '{name}' does not take parameters")
        value = fn()
        return value if isinstance(value, str) else str(value)

    def write_handler_of(self, elem, name: str, value: str):
        """Write handler `name` of elem (None: global); returns the handler's result."""
        from clickpy.element import HandlerError
        if elem is not None:
            return elem.write_handler(name, value)
        fn = self._global_write.get(name)
        if fn is None:
            raise HandlerError(f"no write handler '{name}'")
        return fn(value)

    def handler_names(self) -> list[str]:
        names = sorted(set(self._global_read) | set(self._global_write))
        for elem in self.elements:
            names.extend(f"{elem.name}.{h}" for h in elem.handler_names())
        return names

    def _split(self, full: str):
        from clickpy.element import HandlerError
        name, dot, handler = full.partition(".")
        if not dot:
            return None, full
        elem = self.by_name.get(name)
        if elem is None:
            raise HandlerError(f"no element named '{name}'")
        return elem, handler

    def handler(self, full: str, params: str = "") -> str:
        """Read a handler: 'elem.name' or a global handler like 'list'."""
        from clickpy.element import HandlerError
        elem, name = self._split(full)
        if elem is not None:
            return elem.read_handler(name, params)
        fn = self._global_read.get(name)
        if fn is None:
            if name in self._global_write:
                raise HandlerError(f"{name}: handler is write-only")
            raise HandlerError(f"no handler '{name}'")
        value = fn()
        return value if isinstance(value, str) else str(value)

    read = handler

    def write(self, full: str, value: str = ""):
        """Write a handler; returns its result (None, or a Pending that finishes later)."""
        from clickpy.element import HandlerError
        elem, name = self._split(full)
        if elem is not None:
            return elem.write_handler(name, value)
        fn = self._global_write.get(name)
        if fn is None:
            raise HandlerError(f"no write handler '{name}'")
        return fn(value)

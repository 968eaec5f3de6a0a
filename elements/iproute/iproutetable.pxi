# The IPRouteTable interface shared by the route lookup elements (not an
# element itself): route syntax, next hops, the handlers, the packet path.

_ROUTE_SYNTAX = "ADDR/MASK [GATEWAY] OUTPUT"


def parse_route(str text, bint removing=False):
    """Click's route syntax `ADDR/MASK [GATEWAY] OUTPUT` -> (addr, mask, gw, port);
    GATEWAY may be `-` (none); when removing, GATEWAY and OUTPUT may be left
    out (port -1). Raises ValueError."""
    words = split_words(text)
    if not words:
        raise ValueError("empty route")
    addr, mask = IPADDR_OR_PREFIX(words[0])
    addr &= mask
    gw, port, i = 0, -1, 1
    if i < len(words):
        if words[i] == "-":
            i += 1
        else:
            try:
                gw = IPADDR(words[i])
                i += 1
            except ValueError:
                pass
    if i < len(words):
        port = INT(words[i])
        i += 1
    elif not removing or gw:
        raise ValueError("missing OUTPUT")
    if i != len(words):
        raise ValueError(f"unexpected '{words[i]}'")
    return addr, mask, gw, port


def route_text(route, bint tabs=False):
    """A route as Click unparses it: `addr/len gw port`, gw `-` when none."""
    addr, mask, gw, port = route
    if not tabs:
        return f"{prefix_str(addr, mask)} {ip_str(gw) if gw else '-'} {port}"
    a = prefix_str(addr, mask) + "\t"
    if len(a) < 17:
        a += "\t"
    g = (ip_str(gw) if gw else "-") + "\t"
    if len(g) < 9:
        g += "\t"
    return a + g + str(port)


def mask_prefix_length(uint32_t mask):
    """The prefix length of a contiguous mask, or -1."""
    n = 32 - (~mask & 0xFFFFFFFF).bit_length()
    return n if mask == (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF else -1


class RouteError(ValueError):
    """A route could not be added or removed; the message is for the user."""


cdef inline int32_t route_packet(Anno* a, uint32_t leaf, const uint32_t* nh_gw,
                                 const int32_t* nh_port) noexcept nogil:
    """The output for a looked-up leaf (-1: no route); a gateway replaces the
    destination annotation, as Click's IPRouteTable does."""
    cdef uint32_t nh
    if leaf == 0:
        return -1
    nh = (leaf & 0xFFFFFF) - 1
    if nh_gw[nh]:
        memcpy(&a.user[DST_IP_ANNO], &nh_gw[nh], 4)
    return nh_port[nh]


cdef inline int32_t route_leaves(Anno* anno, Batch* b, const uint32_t* leaves, const uint32_t* nh_gw,
                                 const int32_t* nh_port, int32_t* ports) noexcept nogil:
    """ports[i] = the output of packet i for its looked-up leaf (gateways go to
    the annotation). Returns that output if every packet takes the same one,
    else -2."""
    cdef uint32_t i
    cdef int32_t p, same
    if b.n == 0:
        return -2
    same = ports[0] = route_packet(&anno[b.idx[0]], leaves[0], nh_gw, nh_port)
    for i in range(1, b.n):
        p = route_packet(&anno[b.idx[i]], leaves[i], nh_gw, nh_port)
        ports[i] = p
        if p != same:
            same = -2
    return same


cdef class IPRouteTable(Element):
    """Base of the route lookup elements: routes `ADDR/MASK [GW] OUTPUT` as
    arguments, the add/set/remove/ctrl/flush/table/lookup handlers, next
    hops (distinct gateway and output pairs) in C arrays, and the packet
    path. Subclasses store the routes and look them up."""

    port_count = "1/-"
    processing = "h/h"
    dynamic = True                 # add/remove allowed after initialization

    # next hops: index -> gateway (network byte order, as in the annotation) and output
    cdef uint32_t* nh_gw
    cdef int32_t* nh_port
    cdef uint32_t nh_cap
    cdef list nh_refs              # reference counts (0: free)
    cdef dict nh_index             # (gw, port) -> index
    cdef readonly uint64_t drops   # packets without a route
    cdef bint initialized

    def __cinit__(self):
        self.nh_refs = []
        self.nh_index = {}

    def __dealloc__(self):
        c_free(self.nh_gw)
        c_free(self.nh_port)

    # ---- next hops -----------------------------------------------------------
    def _nexthop(self, uint32_t gw, int port) -> int:
        """The index of next hop (gw, port), made if new; takes a reference."""
        cdef uint32_t cap
        key = (gw, port)
        i = self.nh_index.get(key)
        if i is None:
            try:
                i = self.nh_refs.index(0)
            except ValueError:
                i = len(self.nh_refs)
                if i >= LPM_MAX_NEXTHOPS:
                    raise RouteError("too many distinct next hops")
                self.nh_refs.append(0)
            if <uint32_t>i >= self.nh_cap:
                cap = max(16, 2 * self.nh_cap)
                self.nh_gw = <uint32_t*>realloc(self.nh_gw, cap * sizeof(uint32_t))
                self.nh_port = <int32_t*>realloc(self.nh_port, cap * sizeof(int32_t))
                if self.nh_gw == NULL or self.nh_port == NULL:
                    raise MemoryError()
                self.nh_cap = cap
            store_be32(<uint8_t*>&self.nh_gw[<uint32_t>i], gw)
            self.nh_port[<uint32_t>i] = port
            self.nh_index[key] = i
        self.nh_refs[i] += 1
        return i

    def _release_nexthop(self, int i) -> None:
        self.nh_refs[i] -= 1
        if self.nh_refs[i] == 0:
            del self.nh_index[(load_be32(<uint8_t*>&self.nh_gw[i]), self.nh_port[i])]

    def _nexthop_value(self, int i):
        return load_be32(<uint8_t*>&self.nh_gw[i]), self.nh_port[i]

    # ---- storage, provided by subclasses ------------------------------------------
    def _get(self, uint32_t addr, uint32_t mask):
        """The route for exactly addr/mask as (addr, mask, gw, port), or None."""
        raise NotImplementedError

    def _put(self, uint32_t addr, uint32_t mask, uint32_t gw, int port):
        """Store a route (replacing one for the same prefix)."""
        raise NotImplementedError

    def _delete(self, uint32_t addr, uint32_t mask):
        raise NotImplementedError

    def _routes(self):
        """Every route, oldest first."""
        raise NotImplementedError

    def _clear(self):
        raise NotImplementedError

    def lookup_route(self, uint32_t addr):
        """(output, gateway) for a host-order address; output -1 if no route."""
        raise NotImplementedError

    def _check_mask(self, uint32_t mask):
        """Raise RouteError if this table cannot hold the mask."""

    # ---- Click's IPRouteTable operations ---------------------------------------
    def add_route(self, route, bint replace=False):
        """Add (addr, mask, gw, port); returns the replaced route or None.
        Without replace, an existing route for the prefix is an error."""
        addr, mask, gw, port = route
        if not 0 <= port < self.noutputs:
            raise RouteError(f"bad OUTPUT {port}")
        self._check_mask(mask)
        if self.initialized and not type(self).dynamic:
            raise RouteError("can't add routes dynamically")
        old = self._get(addr, mask)
        if old is not None and not replace:
            raise RouteError(f"conflict with existing route '{route_text(old)}'")
        self._put(addr, mask, gw, port)
        return old

    def remove_route(self, route):
        """Remove the route for (addr, mask); gw and port must match unless port < 0."""
        addr, mask, gw, port = route
        if self.initialized and not type(self).dynamic:
            raise RouteError("can't remove routes dynamically")
        old = self._get(addr, mask)
        if old is None or (port >= 0 and (old[2] != gw or old[3] != port)):
            raise RouteError(f"route '{route_text(route) if port >= 0 else prefix_str(addr, mask)}' not found")
        self._delete(addr, mask)
        return old

    def configure(self, args):
        replaced = 0
        errors = []
        for n, text in enumerate(args.rest(), 1):
            try:
                route = parse_route(text)
            except ValueError:
                errors.append(f"argument {n} should be '{_ROUTE_SYNTAX}'")
                continue
            try:
                if self.add_route(route, replace=True) is not None:
                    replaced += 1
            except RouteError as e:
                errors.append(f"argument {n}: {e}")
        if errors:
            raise self.error("; ".join(errors))
        if replaced:
            self.warn(f"{replaced} {'routes' if replaced > 1 else 'route'} replaced by later versions")

    def initialize(self):
        self.initialized = True

    def _run_command(self, str command, str text):
        """One add/set/remove; returns the undo as (command, route)."""
        try:
            route = parse_route(text, removing=command == "remove")
        except ValueError:
            tail = " OUTPUT]" if command == "remove" else "] OUTPUT"
            raise RouteError(f"expected 'ADDR/MASK [GATEWAY{tail}'") from None
        if command == "remove":
            old = self.remove_route(route)
            return ("add", old)
        old = self.add_route(route, replace=command == "set")
        return ("set", old) if old is not None else ("remove", route[:2] + (0, -1))

    def _handle(self, str command, str text):
        try:
            self._run_command(command, text.strip())
        except RouteError as e:
            raise HandlerError(f"{self.name}.{command}: {e}") from None

    def _ctrl(self, str text):
        undo = []
        try:
            for line in text.splitlines():
                words = line.split(None, 1)
                if not words or words[0].startswith("//"):
                    continue
                if words[0] not in ("add", "set", "remove"):
                    raise RouteError(f"bad command '{words[0]}'")
                undo.append(self._run_command(words[0], words[1] if len(words) > 1 else ""))
        except RouteError as e:
            for command, route in reversed(undo):
                if command == "remove":
                    self.remove_route(route)
                else:
                    self.add_route(route, replace=True)
            raise HandlerError(f"{self.name}.ctrl: {e}") from None

    def _lookup_handler(self, str param):
        if not param.strip():
            raise HandlerError(f"{self.name}.lookup: needs an IP address parameter")
        try:
            addr = IPADDR(param.strip())
        except ValueError:
            raise HandlerError(f"{self.name}.lookup: expected IP address") from None
        port, gw = self.lookup_route(addr)
        return f"{port} {ip_str(gw)}" if gw else str(port)

    def _table(self):
        return "".join(route_text(r, tabs=True) + "\n" for r in self._routes())

    def add_handlers(self):
        self.add_read_handler("table", self._table)
        self.add_read_handler("lookup", self._lookup_handler, params=True)
        self.add_read_handler("drops", lambda: self.drops)
        self.add_write_handler("add", lambda v: self._handle("add", v))
        self.add_write_handler("set", lambda v: self._handle("set", v))
        self.add_write_handler("remove", lambda v: self._handle("remove", v))
        self.add_write_handler("ctrl", self._ctrl)
        if type(self).dynamic:
            self.add_write_handler("flush", lambda v: self._clear())

    # ---- the packet path -------------------------------------------------------
    cdef int _emit(self, Batch* b, int32_t* ports, int32_t same) except -1:
        """Send each packet out of its port; `same`: the port they all take, or -2."""
        cdef uint32_t i, nreport = 0
        if same >= 0:
            return self.output_push(same, b)
        cdef uint32_t unrouted[5]       # the first few, for Click's "no route" messages
        for i in range(b.n):
            if ports[i] < 0:
                if self.drops < 5:
                    memcpy(&unrouted[nreport], &self.pool.anno[b.idx[i]].user[DST_IP_ANNO], 4)
                    nreport += 1
                self.drops += 1
        if nreport:
            self._report_unrouted((<char*>unrouted)[:4 * nreport])
        return push_by_port(self, b, ports)

    def _report_unrouted(self, bytes addrs):
        for i in range(0, len(addrs), 4):
            chatter(self, f"no route for {ip_str(int.from_bytes(addrs[i:i + 4], 'big'))}")

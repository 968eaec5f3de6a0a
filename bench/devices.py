"""Device benchmarks, in network namespaces made for the run and removed after it.

    python bench/devices.py [--seconds 10] [--saturation-seconds 5] [--repeat 3]
                            [--only sender,forwarder,router,kernel,tap] [--json]

`make bench` runs it after the other benchmarks; where namespaces cannot be
made (no root, no pyroute2) it says why and exits 0.

Every clickpy here is a `clickpy run` process inside its namespace; packets
are counted by the kernel (veth and tap interface statistics), never by
clickpy. CPU time comes from /proc, three ways, each per delivered packet:

  machine   busy time of the whole machine (/proc/stat): what the issue asks
            for, since veth work is charged to whichever process happens to
            run it; on a shared machine it also counts the other tenants'
            work, so the idle share during the run is printed beside it
  ours      CPU time of the processes of the topology (/proc/PID/stat) plus
            the kernel's softirq threads: the veth and packet-socket work of
            a send runs in the sender's own context (softirqs run when it
            re-enables them), so this is the topology's cost without the
            other tenants
  forward   ours minus what the generator alone costs to send a packet into a
            veth (the sender benchmark): the cost of the forwarding itself,
            receive and send, the sink's cheap drop included

The machine may be shared: the load average is printed, each figure is the
median of --repeat runs, and the rows are measured in one run.

  sender       InfiniteSource -> ToDevice into a veth (64-byte frames; the peer's
               stack drops them as not addressed to it), METHOD RING and SENDMMSG
  forwarder    generator (clickpy) -> veth -> clickpy FromDevice -> ToDevice ->
               veth -> sink; at 0.4 Mpps offered (tbf on the generator's veth)
               for loss, and at saturation for rate and CPU per packet. The sink
               drops IPv4 at tc ingress (it answers ARP), the same for every variant
  C forwarder  the same topology with bench/c/forward.c forwarding: a minimal C
               program with the same rings as FromDevice -> ToDevice (TPACKET_V3
               receive, TPACKET_V2 send, virtio-net headers, one kick per batch)
               and the same ingress drop on its input: what the kernel costs
               when nothing but the copies runs in user space
  kernel       the same topology with the Linux kernel forwarding instead of clickpy
  router       configs/router.click as the forwarder (when the config exists)
  tap          InfiniteSource -> KernelTap: frames written per second, io_uring and write(2)
  C tap        bench/c/tapwrite.c, a C program writing the same frame into a TAP
               with the same io_uring submissions as KernelTap (and without the
               virtio-net header KernelTap always uses, to show what it costs):
               the kernel's own cost per frame written
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clickpy.elements.linux.ingress import IngressDrop  # noqa: E402
from clickpy.testbed import Testbed  # noqa: E402

PYTHON = sys.executable
FRAME_SRC = "02:00:00:00:00:01"
GOALS = {"sender": 0.7, "forwarder": 0.55, "forwarder_cpu_us": 1.6, "forwarder_loss": 0.001, "tap": 1.2}


def udp_frame(dst_mac: str, src_ip="10.0.0.2", dst_ip="10.0.1.99") -> str:
    """A 60-byte Ethernet/IPv4/UDP frame with valid checksums, as Click's \\<hex>."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    frame = bytes(Ether(src=FRAME_SRC, dst=dst_mac) / IP(src=src_ip, dst=dst_ip, ttl=64)
                  / UDP(sport=1234, dport=53) / bytes(18))
    assert len(frame) == 60
    return frame.hex()


# ---- measurement ---------------------------------------------------------------
def machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far (all CPUs)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]                 # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of a process so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def link_counters(ns, ifname: str) -> tuple[int, int]:
    """(rx_packets, tx_packets) of an interface, from the kernel."""
    with ns.ipr() as ipr:
        link = ipr.get_links(ipr.link_lookup(ifname=ifname)[0])[0]
    stats = link.get_attr("IFLA_STATS64")
    return stats["rx_packets"], stats["tx_packets"]


def link_drops(ns, ifname: str) -> tuple[int, int]:
    """(rx_dropped, tx_dropped) of an interface (a veth counts what its peer
    could not take as tx_dropped)."""
    with ns.ipr() as ipr:
        link = ipr.get_links(ipr.link_lookup(ifname=ifname)[0])[0]
    stats = link.get_attr("IFLA_STATS64")
    return stats["rx_dropped"], stats["tx_dropped"]


def backlog_drops() -> int:
    """Packets the kernel dropped because a CPU's input backlog was full."""
    with open("/proc/net/softnet_stat") as f:
        return sum(int(line.split()[1], 16) for line in f)


def wait_for_packet_sockets(tb: Testbed, ns, count: int, proc: "Clickpy", timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(tb.run(ns, "cat", "/proc/net/packet").stdout.splitlines()) - 1 < count:
        proc.check()
        if time.monotonic() > deadline:
            raise RuntimeError("clickpy did not open its sockets")
        time.sleep(0.05)


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class NamespaceProcess:
    """A benchmark process inside a namespace, stopped with SIGTERM, after
    which it prints its results on stdout (parsed by subclasses' `_read`)."""

    proc: subprocess.Popen

    def cpu(self) -> float:
        return process_cpu(self.proc.pid)

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.proc.args[0]} exited: {self.proc.stderr.read()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self._read(out)

    def _read(self, out: str) -> None:
        raise NotImplementedError


class Clickpy(NamespaceProcess):
    """`clickpy run -e CONFIG` inside a namespace; after SIGTERM it prints the
    handlers asked for."""

    def __init__(self, tb: Testbed, ns, config: str, handlers: tuple[str, ...] = (),
                 config_file: str | None = None, defines: dict[str, str] | None = None) -> None:
        args = [PYTHON, "-m", "clickpy", "run"] + ([config_file] if config_file else ["-e", config])
        args += [f"{k}={v}" for k, v in (defines or {}).items()]
        for h in handlers:
            args += ["-h", h]
        self.handlers = handlers
        self.values: dict[str, str] = {}
        self.proc = tb.popen(ns, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def _read(self, out: str) -> None:
        if len(self.handlers) == 1:
            self.values[self.handlers[0]] = out.strip()
        else:
            name = None
            for line in out.splitlines():
                if line.endswith(":") and line[:-1] in self.handlers:
                    name = line[:-1]
                elif name and line:
                    self.values[name] = line
                    name = None


class Program(NamespaceProcess):
    """A C reference program from bench/c/ inside a namespace; it prints its
    result on stdout when stopped with SIGTERM."""

    def __init__(self, tb: Testbed, ns, source: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.values: dict[str, str] = {}
        self.proc = tb.popen(ns, compiled(source), *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **(env or {})})

    def _read(self, out: str) -> None:
        self.values["result"] = out.strip()


@functools.cache
def _build_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="clickpy-bench-c-"))
    import atexit
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.cache
def compiled(source: str) -> str:
    """Compile bench/c/SOURCE (once per run) and return the program's path."""
    out = _build_dir() / Path(source).stem
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-O2", "-Wall", "-o", str(out), str(ROOT / "bench" / "c" / source)], check=True)
    return str(out)


def softirq_threads() -> list[int]:
    """Process ids of the kernel's ksoftirqd threads (softirq work deferred
    from the context that raised it runs there)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().startswith("ksoftirqd/"):
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def machine_idle() -> float:
    """Idle CPU seconds of the whole machine so far (all CPUs)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (fields[3] + fields[4]) / os.sysconf("SC_CLK_TCK")


def measure(seconds: float, counter, procs: dict[str, Clickpy], warmup: float = 1.0) -> dict:
    """Packets per second from `counter()` (a kernel statistic) and CPU per packet."""
    for p in procs.values():
        p.check()
    time.sleep(warmup)
    softirqd = softirq_threads()
    c0, m0, i0 = counter(), machine_busy(), machine_idle()
    p0 = {k: p.cpu() for k, p in procs.items()}
    s0 = sum(process_cpu(pid) for pid in softirqd)
    t0 = time.monotonic()
    time.sleep(seconds)
    c1, m1, i1 = counter(), machine_busy(), machine_idle()
    p1 = {k: p.cpu() for k, p in procs.items()}
    s1 = sum(process_cpu(pid) for pid in softirqd)
    dt = time.monotonic() - t0
    for p in procs.values():
        p.check()
    packets = max(c1 - c0, 1)
    ours = sum(p1[k] - p0[k] for k in procs) + (s1 - s0)
    result = {"mpps": packets / dt / 1e6, "packets": packets, "seconds": dt,
              "cpu_us_machine": (m1 - m0) / packets * 1e6, "cpu_us_ours": ours / packets * 1e6,
              "idle_share": (i1 - i0) / (dt * (os.cpu_count() or 1))}
    for k in procs:
        result[f"cpu_us_{k}"] = (p1[k] - p0[k]) / packets * 1e6
    return result


# ---- topologies ------------------------------------------------------------------
def sender_run(method: str, seconds: float, bypass: bool = False) -> dict:
    with Testbed() as tb:
        s, d = tb.namespace("s"), tb.namespace("d")
        tb.veth(s, "s0", d, "d0")
        frame = udp_frame("02:00:00:00:00:99")       # not the peer's address: dropped on arrival
        snd = Clickpy(tb, s, f"InfiniteSource(DATA \\<{frame}>, BURST 256, TIMESTAMP false) "
                             f"-> ToDevice(s0, METHOD {method}, BURST 256, QDISC_BYPASS {str(bypass).lower()});")
        try:
            return measure(seconds, lambda: link_counters(d, "d0")[0], {"sender": snd})
        finally:
            snd.stop()


def forward_topology(tb: Testbed):
    s, r, d = tb.namespace("s"), tb.namespace("r"), tb.namespace("d")
    tb.veth(s, "s0", r, "ra")
    tb.veth(r, "rb", d, "d0")
    return s, r, d       # S 10.0.0.2 -> R ra 10.0.0.1 | R rb 10.0.1.1 -> D 10.0.1.99


def limit_rate(tb: Testbed, ns, ifname: str, mpps: float) -> None:
    """A tbf qdisc passing `mpps` million 60-byte frames per second; the
    generator's socket buffer then pushes back instead of losing frames."""
    rate_bit = int(mpps * 1e6 * 60 * 8)
    tb.run(ns, "tc", "qdisc", "add", "dev", ifname, "root", "tbf", "rate", f"{rate_bit}bit",
           "burst", str(max(int(mpps * 1e6 * 60 / 500), 16384)), "limit", str(4 << 20))


def generator(tb: Testbed, s, dst_mac: str) -> Clickpy:
    frame = udp_frame(dst_mac)
    return Clickpy(tb, s, f"InfiniteSource(DATA \\<{frame}>, BURST 256, TIMESTAMP false) "
                          f"-> ToDevice(s0, BURST 256);")


def forwarder_run(kind: str, seconds: float, offered_mpps: float | None, receive_args: str = "") -> dict:
    """kind: 'clickpy' (FromDevice -> ToDevice), 'router' (configs/router.click),
    'c' (bench/c/forward.c) or 'kernel'.

    Offered packets are those R's interface received, delivered ones those
    the sink's interface received. For the loss figure the generator is
    stopped and the pipeline drained before the counters are read, so packets
    in flight at the end are not counted as lost."""
    with Testbed() as tb:
        s, r, d = forward_topology(tb)
        r_mac = r.link_mac("ra")
        procs: dict[str, Clickpy | Program] = {}
        sink = IngressDrop("d0", ether_type=0x0800)
        nosniff = IngressDrop("ra")          # the C forwarder's SNIFFER false
        try:
            # The sink takes what arrives and drops it cheaply and alike for
            # every variant: IPv4 is dropped at tc ingress (ARP is answered).
            tb.up(d, "d0", "10.0.1.99/24")
            with tb.inside(d):
                sink.install()
            if kind == "kernel":
                tb.up(r, "ra", "10.0.0.1/24")
                tb.up(r, "rb", "10.0.1.1/24")
                tb.sysctl(r, "net.ipv4.ip_forward", "1")
                tb.neighbor(r, "rb", "10.0.1.99", d.link_mac("d0"))
            elif kind == "clickpy":
                # frames pass unchanged (still addressed to R)
                procs["forwarder"] = Clickpy(tb, r, f"f :: FromDevice(ra, SNIFFER false, BURST 256{receive_args}) "
                                                    "-> t :: ToDevice(rb, BURST 256);",
                                             ("f.kernel_drops", "f.drops", "t.drops"))
            elif kind == "c":
                with tb.inside(r):
                    nosniff.install()
                procs["forwarder"] = Program(tb, r, "forward.c", "ra", "rb", "256")
            elif kind == "router":
                defines = {"PORTS": "DEV0 ra, DEV1 rb", "IP0": "10.0.0.1", "MAC0": r_mac,
                           "IP1": "10.0.1.1", "MAC1": r.link_mac("rb"), "MTU1": "1500", "GW1": "10.0.1.99"}
                procs["forwarder"] = Clickpy(tb, r, "", config_file=str(ROOT / "configs" / "router.click"),
                                             defines=defines)
            if offered_mpps:
                limit_rate(tb, s, "s0", offered_mpps)
            if "forwarder" in procs:
                wait_for_packet_sockets(tb, r, 2, procs["forwarder"])
                time.sleep(0.5)
            # Counters of different namespaces cannot be read at one instant, so
            # the loss is counted between two quiet moments: before the generator
            # starts and after it has stopped and the pipeline has drained.
            o0, d0 = link_counters(r, "ra")[0], link_counters(d, "d0")[0]
            r0, b0 = link_drops(r, "rb")[1], backlog_drops()
            procs["generator"] = generator(tb, s, r_mac)
            if not offered_mpps:
                return measure(seconds, lambda: link_counters(d, "d0")[0], procs)
            result = measure(seconds, lambda: link_counters(r, "ra")[0], procs)
            procs["generator"].stop()
            time.sleep(1.0)
            o1, d1 = link_counters(r, "ra")[0], link_counters(d, "d0")[0]
            r1, b1 = link_drops(r, "rb")[1], backlog_drops()
            offered, delivered = o1 - o0, d1 - d0
            result["offered_mpps"] = result["mpps"]
            result["loss"] = max(0.0, 1 - delivered / offered) if offered else 1.0
            result["mpps"] = result["offered_mpps"] * (1 - result["loss"])
            result["lost"] = offered - delivered
            result["sink_refused"] = r1 - r0          # the sink's side of the veth could not take them
            result["backlog_drops"] = b1 - b0         # any CPU's input backlog overflowed (machine-wide)
            return result
        finally:
            for p in procs.values():
                p.stop()
            sink.remove()
            if kind == "c":
                nosniff.remove()
            if "forwarder" in procs and procs["forwarder"].values:
                print(f"    {kind}: {procs['forwarder'].values}", file=sys.stderr)


def tap_run(method: str, seconds: float) -> dict:
    with Testbed() as tb:
        n = tb.namespace("n")
        frame = udp_frame("02:00:00:00:00:99", "10.9.0.2", "10.9.0.99")      # dropped: not the tap's address
        snd = Clickpy(tb, n, f"InfiniteSource(DATA \\<{frame}>, BURST 256, TIMESTAMP false) "
                             f"-> KernelTap(10.9.0.1/24, DEVNAME cpbench0, METHOD {method}, BURST 256) -> Discard;")
        try:
            time.sleep(1.0)
            return measure(seconds, lambda: link_counters(n, "cpbench0")[0], {"writer": snd})
        finally:
            snd.stop()


def tap_c_run(method: str, seconds: float, vnet: bool = True) -> dict:
    with Testbed() as tb:
        n = tb.namespace("n")
        frame = udp_frame("02:00:00:00:00:99", "10.9.0.2", "10.9.0.99")
        writer = Program(tb, n, "tapwrite.c", "cpbench0", method, *(() if vnet else ("novnet",)),
                         env={"FRAME": frame})
        try:
            writer.proc.stdout.readline()            # "ready": the device exists
            writer.check()
            # as KernelTap configures its device
            tb.run(n, "ip", "link", "set", "cpbench0", "up", "promisc", "on")
            tb.run(n, "ip", "addr", "add", "10.9.0.1/24", "dev", "cpbench0")
            return measure(seconds, lambda: link_counters(n, "cpbench0")[0], {"writer": writer})
        finally:
            writer.stop()


# ---- the report ----------------------------------------------------------------------
def namespaces_unavailable() -> str | None:
    """Why namespaces and veths cannot be made here, or None if they can."""
    try:
        with Testbed() as tb:
            a, b = tb.namespace("probe-a"), tb.namespace("probe-b")
            tb.veth(a, "x0", b, "y0")
    except Exception as e:          # TestbedError, netlink errors: whatever stops the benchmarks
        return str(e) or type(e).__name__
    return None


def derive_forwarding_cpu(results: dict) -> None:
    """CPU per packet of the forwarding alone: the topology's CPU (the veth
    receive into R runs in the generator's context, the send into the sink
    in the forwarder's) minus what the generator costs sending into a veth by
    itself (the sender benchmark)."""
    base = results.get("sender RING", {}).get("cpu_us_ours")
    if base is None:
        return
    for r in results.values():
        if "cpu_us_generator" in r:
            r["cpu_us_forwarding"] = r["cpu_us_ours"] - base


def benchmarks(only: set[str], loss_seconds: float, seconds: float) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    if "sender" in only:
        rows += [("sender RING", lambda: sender_run("RING", seconds)),
                 ("sender SENDMMSG", lambda: sender_run("SENDMMSG", seconds)),
                 ("sender RING bypass", lambda: sender_run("RING", seconds, True))]
    if "forwarder" in only:
        rows += [("forwarder at 0.4 Mpps", lambda: forwarder_run("clickpy", loss_seconds, 0.4)),
                 ("forwarder saturated", lambda: forwarder_run("clickpy", seconds, None)),
                 ("C forwarder at 0.4 Mpps", lambda: forwarder_run("c", loss_seconds, 0.4)),
                 ("C forwarder saturated", lambda: forwarder_run("c", seconds, None))]
    if "router" in only and (ROOT / "configs" / "router.click").exists():
        rows += [("router.click at 0.4 Mpps", lambda: forwarder_run("router", loss_seconds, 0.4)),
                 ("router.click saturated", lambda: forwarder_run("router", seconds, None))]
    if "kernel" in only:
        rows += [("kernel at 0.4 Mpps", lambda: forwarder_run("kernel", loss_seconds, 0.4)),
                 ("kernel saturated", lambda: forwarder_run("kernel", seconds, None))]
    if "tap" in only:
        rows += [("tap URING", lambda: tap_run("URING", seconds)),
                 ("tap WRITE", lambda: tap_run("WRITE", seconds)),
                 ("C tap URING", lambda: tap_c_run("uring", seconds)),
                 ("C tap URING no vnet", lambda: tap_c_run("uring", seconds, vnet=False)),
                 ("C tap WRITE", lambda: tap_c_run("write", seconds))]
    return rows


def run_all(rows, repeat: int) -> dict[str, dict]:
    """Every row `repeat` times, round-robin (a change in the machine's load
    then touches every row alike); the median of each figure."""
    runs: dict[str, list[dict]] = {name: [] for name, _ in rows}
    for i in range(repeat):
        for name, fn in rows:
            print(f"  [{i + 1}/{repeat}] {name} ...", file=sys.stderr, flush=True)
            runs[name].append(fn())
    results = {}
    for name, rs in runs.items():
        out = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        out["runs_mpps"] = [round(r["mpps"], 3) for r in rs]
        results[name] = out
    return results


def verdicts(results: dict) -> list[str]:
    lines = []

    def goal(name: str, key: str, what: str, ok) -> None:
        if key in results.get(name, {}):
            value = results[name][key]
            lines.append(f"{name} {what}: {'met' if ok(value) else 'MISSED'} ({value:.3g})")

    goal("sender RING", "mpps", f">= {GOALS['sender']} Mpps", lambda v: v >= GOALS["sender"])
    goal("forwarder saturated", "mpps", f">= {GOALS['forwarder']} Mpps", lambda v: v >= GOALS["forwarder"])
    goal("forwarder saturated", "cpu_us_forwarding", f"forward CPU <= {GOALS['forwarder_cpu_us']} us/pkt",
         lambda v: v <= GOALS["forwarder_cpu_us"])
    if "forwarder saturated" in results:
        lines.append(f"  (the forwarder process alone: {results['forwarder saturated']['cpu_us_forwarder']:.2f} "
                     f"us/pkt, the sink's receive included)")
    c_fwd = results.get("C forwarder saturated", {})
    if "cpu_us_forwarding" in c_fwd:
        lines.append(f"  (C with the same rings, same run: {c_fwd['mpps']:.3f} Mpps, forward "
                     f"{c_fwd['cpu_us_forwarding']:.2f} us/pkt, its process alone {c_fwd['cpu_us_forwarder']:.2f})")
    goal("forwarder at 0.4 Mpps", "loss", f"loss <= {GOALS['forwarder_loss']:.1%}",
         lambda v: v <= GOALS["forwarder_loss"])
    if "forwarder at 0.4 Mpps" in results and results["forwarder at 0.4 Mpps"]["offered_mpps"] < 0.38:
        lines.append(f"  (its generator offered only {results['forwarder at 0.4 Mpps']['offered_mpps']:.3f} "
                     f"Mpps of the 0.4 asked: the machine had no more CPU for it)")
    goal("tap URING", "mpps", f">= {GOALS['tap']} Mpps", lambda v: v >= GOALS["tap"])
    if "tap URING" in results and "C tap URING" in results:
        lines.append(f"  (C writing the same frames with the same io_uring submissions, same run: "
                     f"{results['C tap URING']['mpps']:.3f} Mpps; without the virtio-net header "
                     f"{results['C tap URING no vnet']['mpps']:.3f})")
    for ours in ("forwarder", "router.click", "C forwarder"):
        mine, kernel = results.get(f"{ours} saturated"), results.get("kernel saturated")
        if mine and kernel:
            lines.append(f"{ours} saturated / kernel forwarding saturated, same run: "
                         f"{mine['mpps'] / kernel['mpps']:.2f} in Mpps, "
                         f"{mine.get('cpu_us_forwarding', 0) / max(kernel.get('cpu_us_forwarding', 0), 1e-9):.2f} "
                         f"in forward CPU per packet")
    return lines


def print_table(results: dict, repeat: int, loss_seconds: float, seconds: float) -> None:
    runs = f"medians of {repeat} runs" if repeat > 1 else "one run each"
    print(f"clickpy device benchmarks: load average {load_average()} on {os.cpu_count()} CPUs; {runs}, "
          f"{loss_seconds:g} s at 0.4 Mpps offered, {seconds:g} s otherwise")
    print("Mpps delivered (offered: what reached the forwarder's interface); CPU in us per delivered packet:")
    print("machine-wide (idle: the machine's idle share meanwhile), ours (the topology's processes and")
    print("softirq threads), forward (ours minus the generator's own sending cost); see bench/devices.py")
    print(f"{'benchmark':25} {'Mpps':>6} {'offered':>7} {'loss':>7} {'machine':>7} {'idle':>5} {'ours':>5} "
          f"{'process':>7} {'forward':>7}  runs (Mpps)")
    for name, r in results.items():
        process = r.get("cpu_us_forwarder", r.get("cpu_us_sender", r.get("cpu_us_writer")))
        loss = f"{r['loss']:.3%}" if "loss" in r else ""
        offered = f"{r['offered_mpps']:.3f}" if "offered_mpps" in r else ""
        fwd = f"{r['cpu_us_forwarding']:.2f}" if "cpu_us_forwarding" in r else ""
        line = (f"{name:25} {r['mpps']:6.3f} {offered:>7} {loss:>7} {r['cpu_us_machine']:7.2f} "
                f"{r['idle_share']:5.0%} {r['cpu_us_ours']:5.2f} {'' if process is None else f'{process:.2f}':>7} "
                f"{fwd:>7}  {r['runs_mpps']}")
        if r.get("lost", 0) > 0:
            line += (f"  lost {r['lost']:.0f}: sink refused {r['sink_refused']:.0f}, "
                     f"backlog drops {r['backlog_drops']:.0f}")
        print(line)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the loss runs (default 10)")
    ap.add_argument("--saturation-seconds", type=float, default=5.0,
                    help="length of the other runs (default 5)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="sender,forwarder,router,kernel,tap")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    print(file=sys.stderr)
    reason = namespaces_unavailable()
    if reason:
        print(f"device benchmarks skipped: cannot make network namespaces here ({reason}); "
              f"run `make bench` as root with pyroute2 installed")
        return 0
    from clickpy import _build
    if _build.DEBUG:
        print("device benchmarks: warning: this is a debug build (make build-debug); figures are not representative")
    rows = benchmarks(set(args.only.split(",")), args.seconds, args.saturation_seconds)
    results = run_all(rows, args.repeat)
    derive_forwarding_cpu(results)
    if args.json:
        print(json.dumps({"load": load_average(), "results": results}, indent=1))
        return 0
    print()
    print_table(results, args.repeat, args.seconds, args.saturation_seconds)
    print()
    print("device goals:")
    for line in verdicts(results):
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""FromDump reading a mapped file (MMAP) that another process truncates.

A truncation takes pages away from the mapping: reading them raises SIGBUS,
and the rest of the page the file now ends in reads as zeros. FromDump must
end the trace at the last record the file still holds whole, as it does at a
truncated record of a file read with read(2): a warning, no partial or zero
record emitted, no buffer lost, and never a dead process. Any SIGBUS that is
not such a read must reach whatever handled SIGBUS before.
"""
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from scapy.all import ARP, IP, UDP, Ether, Raw

import sink  # noqa: F401  (registers PacketSink)
from clickpy.router import Router
from std_helpers import pull
from test_hot_paths import C_DIR, cdef_functions, strip_comments
from test_traces_pcap import write_records

PAGE = 4096
ROOT = Path(__file__).resolve().parent.parent


def numbered_frames(n, arp_every=0):
    """n different Ethernet frames of 60 to 259 bytes: IPv4/UDP, or ARP every
    arp_every-th (the frame number in the last 4 bytes of the UDP payload)."""
    bases = [bytes(Ether() / IP(dst=f"10.0.0.{k % 250 + 1}") / UDP(dport=53) / Raw(bytes(18 + k)))
             for k in range(200)]
    arp = bytes(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst="10.0.0.1")) + bytes(18)
    frames = []
    for i in range(n):
        if arp_every and i % arp_every == arp_every - 1:
            frames.append(arp[:-4] + struct.pack("!I", i))
        else:
            base = bases[i * 7 % 200]
            frames.append(base[:-4] + struct.pack("!I", i))
    return frames


def write_frames(path, frames):
    """A pcap of frames; returns each record's end offset."""
    write_records(path, [(f, len(f), len(f)) for f in frames])
    ends, at = [], 24
    for f in frames:
        at += 16 + len(f)
        ends.append(at)
    assert at == os.path.getsize(path)
    return ends


def pull_until_empty(r, name):
    got = []
    while True:
        more = pull(r, name)
        if not more:
            return got
        got += more


@pytest.mark.parametrize("where", ["page boundary", "mid-page", "last page", "behind the reader"])
def test_truncated_while_mapped_ends_at_the_last_whole_record(tmp_path, where):
    """The test truncates the file between two pulls, after FromDump mapped
    it: at a page boundary ahead (the next reads fault), inside a page ahead
    (zeros, then a fault), inside the file's last page (zeros only: no page
    after it to fault), or behind what was read (packets already read stay
    emitted; the next read faults)."""
    frames = numbered_frames(12000)
    path = tmp_path / "cut.pcap"
    ends = write_frames(path, frames)
    cut = {"page boundary": 300 * PAGE, "mid-page": 300 * PAGE + 1234,
           "last page": ends[-1] - 100, "behind the reader": PAGE}[where]
    r = Router.from_string(f"fd :: FromDump({path}, STOP true, MMAP true) -> Unqueue -> Discard;",
                           warnings=False)
    got = pull(r, "fd", max=100)
    os.truncate(path, cut)
    got += pull_until_empty(r, "fd")
    kept = max(100, sum(1 for e in ends if e <= cut))
    assert kept < len(frames)
    assert got == frames[:kept]
    assert r.handler("fd.count") == str(kept)
    assert r.handler("fd.active") == "false"            # STOP: the trace ended
    assert [w.message for w in r.warnings] == [
        f"fd :: FromDump: {path}: truncated to {cut} bytes while being read; "
        f"ending the trace at offset {ends[kept - 1]}"]
    assert r.handler("fd.filepos") == str(max(ends[kept - 1], cut))
    assert pull(r, "fd") == []


@pytest.mark.parametrize("keyword", ["", ", MMAP false"])
def test_regular_files_are_mapped_unless_mmap_false(tmp_path, keyword):
    """MMAP's default is true: the same truncation ends a mapped trace at once
    (the next read faults), but a trace read with read(2) only after the
    records already in its 256 KiB block, at the record the cut went through."""
    frames = numbered_frames(12000)
    path = tmp_path / "cut.pcap"
    ends = write_frames(path, frames)
    r = Router.from_string(f"fd :: FromDump({path}, STOP true{keyword}) -> Unqueue -> Discard;", warnings=False)
    got = pull(r, "fd", max=100)
    os.truncate(path, PAGE)
    got += pull_until_empty(r, "fd")
    (warning,) = [w.message for w in r.warnings]
    if keyword:
        block = 256 << 10                   # the first read(2) got the file's first block
        kept = sum(1 for e in ends if e <= block)
        assert warning.endswith(f"truncated packet record at offset {ends[kept - 1]} (needs "
                                f"{16 + len(frames[kept])} bytes, the file has {block - ends[kept - 1]}); "
                                "ending the trace")
    else:
        kept = 100
        assert warning.endswith(f"truncated to {PAGE} bytes while being read; "
                                f"ending the trace at offset {ends[kept - 1]}")
    assert got == frames[:kept]


@pytest.mark.parametrize("cut_at", [250 * PAGE, 250 * PAGE + 777])
def test_truncation_under_force_ip_trims_both_outputs(tmp_path, cut_at):
    """FORCE_IP reads every record in the general loop and sends ARP frames
    to output 1: the records the truncation took leave neither output."""
    frames = numbered_frames(9000, arp_every=5)
    path = tmp_path / "cut.pcap"
    ends = write_frames(path, frames)
    r = Router.from_string(f"fd :: FromDump({path}, FORCE_IP true, MMAP true) -> Unqueue -> Discard; "
                           f"fd[1] -> s :: PacketSink;", warnings=False)
    got = pull(r, "fd", max=100)
    os.truncate(path, cut_at)
    got += pull_until_empty(r, "fd")
    whole = [f for f, e in zip(frames, ends) if e <= cut_at]
    assert got == [f for f in whole if f[12:14] == b"\x08\x00"]
    assert [d for d, _ in r.element("s").packets] == [f for f in whole if f[12:14] == b"\x08\x06"]
    assert len(r.warnings) == 1 and f"truncated to {cut_at} bytes" in r.warnings[0].message


def test_truncated_by_another_process_while_running(tmp_path):
    """A second process truncates the file at some moment while FromDump
    pushes it through ToDump as fast as it can (so the cut can come in the
    middle of a fill). Whatever the moment, ToDump gets a prefix of the
    original records, each whole, and STOP ends the run."""
    frames = numbered_frames(100000)
    original = tmp_path / "original.pcap"
    ends = write_frames(original, frames)
    cut = ends[len(ends) // 2] + 51                 # inside a record, inside a page
    records = original.read_bytes()[24:]
    path, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    ended_by_truncation = 0
    for delay in (0, 0.001, 0.002, 0.003, 0.005, 0.008):
        shutil.copyfile(original, path)
        truncate = subprocess.Popen(
            [sys.executable, "-c", "import os, sys, time\n"
             f"sys.stdin.read(1); time.sleep({delay}); os.truncate({str(path)!r}, {cut})"],
            stdin=subprocess.PIPE)
        r = Router.from_string(f"fd :: FromDump({path}, STOP true, MMAP true) -> ToDump({out});",
                               warnings=False)
        truncate.stdin.write(b"go")
        truncate.stdin.close()
        r.run(timeout=60)
        assert truncate.wait(timeout=30) == 0
        r.cleanup()
        # ToDump writes the records as they were (the file headers differ in the snap length)
        written = out.read_bytes()[24:]
        assert written == records[:len(written)]
        count = int(r.handler("fd.count"))
        assert len(written) == (ends[count - 1] - 24 if count else 0)
        if r.warnings:
            # while reading, or found at the next mapping (then as in a file truncated before)
            (warning,) = [w.message for w in r.warnings]
            short = re.search(r"truncated packet record at offset (\d+) \(needs \d+ bytes, the file has (\d+)\)",
                              warning)
            assert f"truncated to {cut} bytes" in warning or short and int(short[1]) + int(short[2]) == cut
            ended_by_truncation += 1
        else:
            assert count == len(frames)             # read whole before the cut came
    print(f"{ended_by_truncation} of 6 runs ended by the truncation")


GUARDED = ("FromDump__fill", "FromDump__fill_plain", "_fill_mapped", "_copy_mapped", "TraceReader_confirm")
PYTHON_API = re.compile(r"\b(Py\w*|_Py\w+|__Pyx_(?!RefNanny)\w+)\s*\(")


def test_guarded_code_owns_no_python_reference():
    """What runs under the SIGBUS guard may be abandoned at any read of the
    file: the C that Cython generated for it must hold no reference and call
    no Python (no Py*/__Pyx_* call at all, not only in loops)."""
    text = strip_comments((C_DIR / "elements" / "traces" / "traces.c").read_text())
    found = {}
    for name, body in cdef_functions(text):
        for guarded in GUARDED:
            if name.endswith(guarded):
                found[guarded] = sorted(set(PYTHON_API.findall(body)))
    assert sorted(found) == sorted(GUARDED)
    assert all(calls == [] for calls in found.values()), found


def run_python(code, tmp_path, *args):
    """Run code in a child Python in tmp_path, where `trace(n)` writes in.pcap
    (n records of 114 zero bytes) and returns its record length."""
    code = textwrap.dedent("""
        import struct
        def trace(n):
            with open("in.pcap", "wb") as f:
                f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
                f.write((struct.pack("<IIII", 0, 0, 114, 114) + bytes(114)) * n)
            return 16 + 114
        def truncate_and_drain(r, xs, record):
            # cut in.pcap to 100 pages under element fd, then read it to the end
            import os
            os.truncate("in.pcap", 100 * 4096)
            n = len(xs)
            while xs:
                for x in xs:
                    r.pool.free_packet(x)
                xs = r.element("fd").pull_packets(0, 256)
                n += len(xs)
            print("read", n, "whole", (100 * 4096 - 24) // record, r.warnings[0].message)
    """) + textwrap.dedent(code)
    return subprocess.run([sys.executable, *args, "-c", code], cwd=tmp_path, text=True,
                          capture_output=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})


# In a child: a FromDump with MMAP true (which installs the guard's handler),
# then a SIGBUS that is not a read of its file: a page of a file Python's mmap
# module mapped, truncated away.
UNRELATED_FAULT = """
    import mmap, os
    from clickpy.router import Router
    trace(3)
    r = Router.from_string("fd :: FromDump(in.pcap, STOP true, MMAP true) -> Discard;")
    r.run(timeout=10)
    with open("other", "wb") as f:
        f.write(bytes(3 * 4096))
    fd = os.open("other", os.O_RDONLY)
    m = mmap.mmap(fd, 3 * 4096, prot=mmap.PROT_READ)
    os.truncate("other", 0)
    print("read", m[2 * 4096], flush=True)
"""


def test_unrelated_sigbus_still_kills_by_default(tmp_path):
    done = run_python(UNRELATED_FAULT, tmp_path)
    assert done.returncode == -signal.SIGBUS, done.stderr
    assert "read" not in done.stdout


def test_unrelated_sigbus_reaches_faulthandler_installed_before(tmp_path):
    done = run_python(UNRELATED_FAULT, tmp_path, "-X", "faulthandler")
    assert done.returncode == -signal.SIGBUS, done.stderr
    assert "Fatal Python error: Bus error" in done.stderr
    # faulthandler's traceback points at the read
    assert re.search(r'File "<string>", line \d+ in <module>', done.stderr)


def test_sigbus_sent_reaches_a_python_handler_installed_before(tmp_path):
    """A Python SIGBUS handler installed before FromDump's still gets a SIGBUS
    sent with kill(); then a truncation under FromDump's mapping is still
    survived."""
    code = """
        import os, signal
        from clickpy.router import Router
        caught = []
        signal.signal(signal.SIGBUS, lambda sig, frame: caught.append(sig))
        record = trace(30000)
        r = Router.from_string("fd :: FromDump(in.pcap, STOP true, MMAP true) -> Unqueue -> Discard;",
                               warnings=False)
        xs = r.element("fd").pull_packets(0, 10)
        os.kill(os.getpid(), signal.SIGBUS)
        print("caught", caught, flush=True)
        truncate_and_drain(r, xs, record)
    """
    done = run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"caught [{int(signal.SIGBUS)}]" in done.stdout
    read = re.search(r"read (\d+) whole (\d+) .*truncated to 409600 bytes", done.stdout)
    assert read and read[1] == read[2], done.stdout


def test_no_mapping_once_another_handler_replaced_the_guard(tmp_path):
    """faulthandler enabled after a FromDump installed the guard's handler
    replaces it: a FromDump opened then reads with read(2), so that the
    truncation still ends its trace (as a truncated file) rather than the
    process."""
    code = """
        import faulthandler, os
        from clickpy.router import Router
        record = trace(30000)
        Router.from_string("FromDump(in.pcap, STOP true, MMAP true) -> Discard;").run(timeout=10)
        faulthandler.enable()
        r = Router.from_string("fd :: FromDump(in.pcap, STOP true, MMAP true) -> Unqueue -> Discard;",
                               warnings=False)
        xs = r.element("fd").pull_packets(0, 10)
        truncate_and_drain(r, xs, record)
    """
    done = run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    read = re.search(r"read (\d+) whole (\d+) .*truncated packet record at offset", done.stdout)
    assert read and read[1] == read[2], done.stdout


def test_a_file_that_cannot_be_mapped_is_read(tmp_path):
    """sysfs files cannot be mapped (ENODEV): FromDump reads them instead, so
    the error is about the content, not about mapping."""
    path = "/sys/kernel/mm/transparent_hugepage/enabled"
    if not os.path.exists(path):
        pytest.skip(f"no {path}")
    with pytest.raises(Exception, match="not a pcap file"):
        Router.from_string(f"FromDump({path}, MMAP true) -> Discard;")

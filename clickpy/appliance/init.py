#!/usr/bin/python3 -S
"""/init of the clickpy appliance: PID 1 in a guest whose root is the initramfs.

Copied into the image as ``/init``; uses the standard library only (_ctypes
for mount(2) and reboot(2)). In order:

1. mount /proc, /sys, /dev (devtmpfs), /run and /tmp (tmpfs);
2. read ``/etc/clickpy/appliance.conf`` (a dict literal, written by ``clickpy appliance
   build``) and the kernel command line;
3. bring ``lo`` and every NIC up (ioctl SIOCSIFFLAGS; no iproute2);
4. find the control channel (a virtio-serial port named
   ``org.clickpy.control``) and fork a bridge between it and the router's
   Unix ControlSocket (``/run/clickpy/control.sock``);
5. choose the config: ``clickpy.config=<base64>`` on the kernel command
   line (zlib-compressed or plain), else ``/etc/clickpy/config.click`` (put
   there at build time or by a second initramfs appended at boot);
6. call the entry point in this process (``module:function(argv)``, for the
   product ``clickpy.cli:main(["run", ...])``), the config's NAME=VALUE
   definitions last: the image's, with ``clickpy.defines=<base64>`` (one
   per line) from the kernel command line over them;
7. when it returns (or raises), sync and reboot: QEMU runs with -no-reboot
   and the kernel with reboot=t, so a reboot ends the VM ("power off").

Hash seeding: Python reads PYTHONHASHSEED before it runs this file, so the
host puts ``PYTHONHASHSEED=<random>`` on the kernel command line (the kernel
hands unknown ``name=value`` words to init as environment); start-up then
never asks the kernel for entropy. Without it, Python 3.11 falls back to a
non-blocking read, so boot does not hang either way.

Everything printed here starts with ``clickpy-appliance:`` so the host can
follow the boot on the serial console.
"""

import os
import sys

T0 = None  # uptime when /init started, for the boot report

CONF_FILE = "/etc/clickpy/appliance.conf"  # a Python dict literal
DEFAULT_CONFIG = "/etc/clickpy/config.click"
RUN_DIR = "/run/clickpy"
CONTROL_PORT_NAME = "org.clickpy.control"
CONTROL_SOCKET = RUN_DIR + "/control.sock"

MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
IFF_UP = 0x1
LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2 = 0xFEE1DEAD, 672274793
LINUX_REBOOT_CMD_RESTART = 0x01234567
LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC

_libc = None


def log(msg):
    sys.stdout.write("clickpy-appliance: %s\n" % msg)
    sys.stdout.flush()


def memory_available_mb():
    """MemAvailable of /proc/meminfo, MB (-1 if unknown): how much room the
    payload has (the figure that decides the smallest -m)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return -1


def uptime():
    try:
        with open("/proc/uptime") as fh:
            return float(fh.read().split()[0])
    except (OSError, ValueError):
        return -1.0


def libc():
    """The C library's mount(2) and reboot(2), called through _ctypes: the
    ctypes package (with struct, types and its endianness module) costs
    ~50 ms of boot under emulation, for two functions taking ints and
    strings. Calls return the C int and keep errno (``libc().errno()``)."""
    global _libc
    if _libc is None:
        import _ctypes

        class CInt(_ctypes._SimpleCData):
            _type_ = "i"

        class CULong(_ctypes._SimpleCData):
            _type_ = "L"

        class CFunction(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
            _restype_ = CInt

        class CLibrary:
            _handle = _ctypes.dlopen(None)  # the process itself: libc is loaded
            c_ulong = CULong
            errno = staticmethod(_ctypes.get_errno)

            def __getattr__(self, name):
                return CFunction((name, self))

        _libc = CLibrary()
    return _libc


def mount(source, target, fstype, flags=0, data=None):
    os.makedirs(target, exist_ok=True)
    c = libc()
    rc = c.mount(source.encode(), target.encode(), fstype.encode(),
                 c.c_ulong(flags), data.encode() if data else None)
    if rc != 0:
        err = c.errno()
        if err != 16:  # EBUSY: already mounted
            log("mount %s on %s failed: %s" % (fstype, target, os.strerror(err)))


def mount_all():
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755")
    mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV)
    os.makedirs(RUN_DIR, exist_ok=True)


def kernel_cmdline():
    """clickpy.* words of the kernel command line, as a dict."""
    try:
        with open("/proc/cmdline") as fh:
            words = fh.read().split()
    except OSError:
        return {}
    out = {}
    for w in words:
        if w.startswith("clickpy."):
            k, _, v = w.partition("=")
            out[k[len("clickpy."):]] = v
    return out


# _socket rather than socket: the wrapper module imports enum and selectors,
# ~0.15 s under TCG, before the payload needs them.

def link_up(name):
    import _socket
    import fcntl
    import struct
    # any socket takes the device ioctls; the kernel has no IPv4 (AF_INET)
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    try:
        ifr = struct.pack("16sH14x", name.encode(), 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", name.encode(), flags | IFF_UP))
    finally:
        s.close()


def nics():
    """(name, mac) of every network interface but lo, in index order."""
    import _socket
    out = []
    for _index, name in sorted(_socket.if_nameindex()):
        if name == "lo":
            continue
        try:
            with open("/sys/class/net/%s/address" % name) as fh:
                mac = fh.read().strip()
        except OSError:
            mac = "?"
        out.append((name, mac))
    return out


def bring_up_links():
    try:
        link_up("lo")
    except OSError as e:
        log("lo: %s" % e)
    found = nics()
    for name, _mac in found:
        try:
            link_up(name)
        except OSError as e:
            log("%s: cannot bring up: %s" % (name, e))
    log("nics: " + (" ".join("%s=%s" % nm for nm in found) or "none"))
    return found


def find_virtio_port(wanted):
    """The /dev node of the virtio-serial port called ``wanted``, or None."""
    base = "/sys/class/virtio-ports"
    try:
        ports = sorted(os.listdir(base))
    except OSError:
        return None
    for port in ports:
        try:
            with open("%s/%s/name" % (base, port)) as fh:
                name = fh.read().strip()
        except OSError:
            continue
        if name == wanted:
            dev = "/dev/" + port
            try:  # what udev would do
                os.makedirs("/dev/virtio-ports", exist_ok=True)
                os.symlink(dev, "/dev/virtio-ports/" + name)
            except OSError:
                pass
            return dev
    return None


# ---------------------------------------------------------------------------
# The control bridge. The virtio-serial port is one byte stream for the VM's
# whole life (the host end is held open by `clickpy appliance run`, see
# clickpy/appliance/control.py). Host clients are multiplexed over it in
# frames: struct "!BHH" (type, channel, length) + data, with types
# OPEN (a host client connected), DATA and CLOSE, in both directions. For
# each channel the bridge connects to the router's Unix ControlSocket and
# relays bytes. The same codec is in control.py; keep them in step.

F_OPEN, F_DATA, F_CLOSE = 1, 2, 3
_HDR = 5
_MAX_DATA = 65535


def _frame(kind, ch, data=b""):
    import struct
    return struct.pack("!BHH", kind, ch, len(data)) + data


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def control_bridge(port_dev, sock_path):
    """Run forever in a child process: relay host channels to sock_path."""
    import _socket
    import select
    import struct
    import time
    port = os.open(port_dev, os.O_RDWR)
    conns = {}  # channel -> connected router socket
    pending = {}  # channel -> deadline: router socket not there yet
    by_fd = {}  # socket fd -> channel
    buf = b""
    poller = select.poll()
    poller.register(port, select.POLLIN)
    try:  # set up at the lowest priority (start_control_bridge): back to normal
        os.setpriority(os.PRIO_PROCESS, 0, 0)
    except OSError:
        pass

    def close(ch, tell_host):
        sock = conns.pop(ch, None)
        pending.pop(ch, None)
        if sock is not None:
            by_fd.pop(sock.fileno(), None)
            try:
                poller.unregister(sock.fileno())
            except (KeyError, ValueError):
                pass
            sock.close()
        if tell_host:
            _write_all(port, _frame(F_CLOSE, ch))

    def try_connect(ch):
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.connect(sock_path)
        except OSError:
            sock.close()
            if time.monotonic() > pending[ch]:
                close(ch, True)
            return
        del pending[ch]
        conns[ch] = sock
        by_fd[sock.fileno()] = ch
        poller.register(sock.fileno(), select.POLLIN)

    while True:
        timeout = 50 if pending else None
        events = poller.poll(timeout)
        for ch in list(pending):
            try_connect(ch)
        for fd, ev in events:
            if fd == port:
                data = os.read(port, 65536)
                if not data:  # host end not open (yet): wait for it
                    time.sleep(0.25)
                    continue
                buf += data
                while len(buf) >= _HDR:
                    kind, ch, n = struct.unpack("!BHH", buf[:_HDR])
                    if len(buf) < _HDR + n:
                        break
                    payload, buf = buf[_HDR:_HDR + n], buf[_HDR + n:]
                    if kind == F_OPEN:
                        close(ch, False)
                        pending[ch] = time.monotonic() + 60.0
                        try_connect(ch)
                    elif kind == F_DATA and ch in conns:
                        try:
                            sock = conns[ch]
                            view = memoryview(payload)
                            while view:
                                view = view[sock.send(view):]
                        except OSError:
                            close(ch, True)
                    elif kind == F_CLOSE:
                        close(ch, False)
            else:
                ch = by_fd.get(fd)
                if ch is None:
                    continue
                try:
                    data = conns[ch].recv(_MAX_DATA)
                except OSError:
                    data = b""
                if data:
                    _write_all(port, _frame(F_DATA, ch, data))
                else:
                    close(ch, True)


def start_control_bridge():
    dev = find_virtio_port(CONTROL_PORT_NAME)
    if dev is None:
        return None
    pid = os.fork()
    if pid == 0:
        try:
            control_bridge(dev, CONTROL_SOCKET)
        except BaseException as e:  # never return into the parent's code
            log("control bridge: %r" % (e,))
        finally:
            os._exit(1)
    # the bridge starts up (imports, opening the port) at the lowest
    # priority: under emulation it would otherwise take the CPU from the
    # router's start-up, and the host's first client comes after that anyway
    try:
        os.setpriority(os.PRIO_PROCESS, pid, 19)
    except OSError:
        pass
    log("control: %s <-> %s (bridge pid %d)" % (dev, CONTROL_SOCKET, pid))
    return pid


def load_settings():
    # a dict literal, not JSON: importing json costs ~0.1 s under TCG (re)
    try:
        with open(CONF_FILE) as fh:
            return eval(compile(fh.read(), CONF_FILE, "eval"), {"__builtins__": {}})
    except (OSError, SyntaxError, ValueError) as e:
        log("no %s (%s): using defaults" % (CONF_FILE, e))
        return {}


def choose_config(cmdline):
    """Path of the config to run: kernel command line first, then the image."""
    b64 = cmdline.get("config")
    if b64:
        raw = unpack(b64)
        path = RUN_DIR + "/config.click"
        with open(path, "wb") as fh:
            fh.write(raw)
        log("config: from the kernel command line (%d bytes)" % len(raw))
        return path
    if os.path.exists(DEFAULT_CONFIG):
        log("config: %s" % DEFAULT_CONFIG)
        return DEFAULT_CONFIG
    log("config: none")
    return None


def unpack(b64):
    """Bytes of a clickpy.config/clickpy.defines value: base64 (-_), zlib or plain."""
    import base64
    import zlib
    raw = base64.b64decode(b64 + "=" * (-len(b64) % 4), altchars=b"-_")
    try:
        return zlib.decompress(raw)
    except zlib.error:
        return raw


def merged_defines(built_in, cmdline):
    """The image's NAME=VALUE definitions with those of ``clickpy.defines=``
    (one per line) in their place or added: the kernel command line wins."""
    out = {}
    for d in built_in:
        out[d.partition("=")[0]] = d
    packed = cmdline.get("defines")
    if packed:
        given = [d for d in unpack(packed).decode("utf-8", "replace").split("\n") if d]
        log("defines: from the kernel command line: %s" % " ".join(given))
        for d in given:
            out[d.partition("=")[0]] = d
    return list(out.values())


def run_entry(settings, config, cmdline):
    entry = settings.get("entry", "clickpy.cli:main")
    argv = [a.replace("{config}", config or "").replace("{control}", CONTROL_SOCKET)
            for a in settings.get("argv", ["run", "{config}"])]
    argv += merged_defines(settings.get("defines", []), cmdline)
    modname, _, func = entry.partition(":")
    sys.argv = [modname] + argv
    log("run: %s %s" % (entry, " ".join(repr(a) if " " in a else a for a in argv)))
    # __import__, not importlib.import_module: importlib (with warnings) costs
    # ~30 ms of start-up under emulation
    __import__(modname)
    mod = sys.modules[modname]
    rc = getattr(mod, func or "main")(argv)
    return 0 if rc is None else int(rc)


def power_off(status):
    log("exit status %s, powering off" % status)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    try:
        import termios
        termios.tcdrain(1)
    except Exception:
        pass
    os.sync()
    try:
        # x86 without ACPI cannot power off: reboot, and QEMU (-no-reboot)
        # exits; the kernel's reboot=t makes the reset a triple fault, which
        # works on every QEMU machine type
        libc().reboot(LINUX_REBOOT_CMD_RESTART)
    except Exception as e:
        log("reboot(2) failed: %r" % (e,))
    try:
        with open("/proc/sysrq-trigger", "w") as fh:
            fh.write("b")
    except OSError:
        pass
    # last resort: PID 1 exits, the kernel panics, panic=-1 reboots
    os._exit(status & 0xFF or 1)


def main():
    global T0
    status = 1
    try:
        os.environ.setdefault("PATH", "/usr/bin:/bin")
        mount_all()
        T0 = uptime()
        log("init started at %.3f s" % T0)
        settings = load_settings()
        site = settings.get("site_packages")
        if site and site not in sys.path:
            sys.path.append(site)
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in sys.path[1:] if p)
        cmdline = kernel_cmdline()
        bring_up_links()
        start_control_bridge()
        config = choose_config(cmdline)
        log("ready at %.3f s, %d MB of memory available" % (uptime(), memory_available_mb()))
        status = run_entry(settings, config, cmdline)
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        import traceback
        traceback.print_exc()
        status = 1
    finally:
        power_off(status)


if __name__ == "__main__":
    main()

"""Start-up cost of `clickpy run -q`: from process start to a ready router.

    python3 bench/bench_startup.py [-n RUNS] [--callgrind] [-- CLICKPY ARGS...]

Times the command (default: a one-packet InfiniteSource -> Discard config)
against a bare `python -c pass` run alternately in the same loop, and prints
medians and the difference, which is clickpy's own share.  Wall times on a
shared machine are noisy, so --callgrind also counts the instructions of
both under valgrind (deterministic to a fraction of a percent).

Start-up depends on compiled bytecode: with PYTHONDONTWRITEBYTECODE set and
no __pycache__, every module is compiled from source each run (`make dev`
runs compileall so the .pyc files exist, as in an installed clickpy).
"""
import os
import statistics
import subprocess
import sys
import time

DEFAULT_ARGS = ["run", "-q", "-e", "InfiniteSource(LIMIT 1, STOP true) -> Discard;"]


def clickpy_command(args: list[str]) -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "clickpy")
    if os.path.exists(script):
        return [sys.executable, script] + args
    return [sys.executable, "-m", "clickpy"] + args


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def instructions(cmd: list[str]) -> int:
    r = subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=no",
                        "--callgrind-out-file=/dev/null"] + cmd,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in r.stderr.splitlines():
        if "Collected" in line:
            return int(line.split(":")[-1].strip())
    raise RuntimeError("no instruction count in valgrind's output")


def main() -> None:
    argv = sys.argv[1:]
    runs = 20
    use_callgrind = False
    args = DEFAULT_ARGS
    while argv:
        a = argv.pop(0)
        if a == "-n":
            runs = int(argv.pop(0))
        elif a == "--callgrind":
            use_callgrind = True
        elif a == "--":
            args = argv
            break
        else:
            sys.exit(__doc__)
    cmd = clickpy_command(args)
    bare = [sys.executable, "-c", "pass"]
    wall(cmd)  # warm the page cache
    t_cmd, t_bare = [], []
    for _ in range(runs):
        t_cmd.append(wall(cmd))
        t_bare.append(wall(bare))
    med_cmd, med_bare = statistics.median(t_cmd), statistics.median(t_bare)
    print(f"clickpy {' '.join(args)}")
    print(f"  wall, median of {runs}: {med_cmd * 1e3:.1f} ms (min {min(t_cmd) * 1e3:.1f});"
          f" python -c pass {med_bare * 1e3:.1f} ms (min {min(t_bare) * 1e3:.1f});"
          f" difference {(med_cmd - med_bare) * 1e3:.1f} ms")
    if use_callgrind:
        i_cmd, i_bare = instructions(cmd), instructions(bare)
        print(f"  instructions: {i_cmd / 1e6:.1f} M; python -c pass {i_bare / 1e6:.1f} M;"
              f" difference {(i_cmd - i_bare) / 1e6:.1f} M")


if __name__ == "__main__":
    main()

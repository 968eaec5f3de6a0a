"""Parser speed: parse a generated ~1,000-line configuration and report the time.

    python3 bench/bench_lang.py [LINES]

Prints the best-of-N CPU time, and the same for a baseline loop in the same
process, so runs on a busy machine can be compared by their ratio.
"""
import sys
import time

from clickpy.lang import parse_config


def make_config(lines: int) -> str:
    out = ["elementclass Fwd { $x | input -> c :: Counter -> Queue($x) -> output; }",
           "define($N 100);"]
    i = 0
    while len(out) < lines:
        out.append(f"src{i} :: InfiniteSource(DATA \\<00 11 22 33>, LIMIT $N, STOP true);")
        out.append(f"src{i} -> Strip(14) -> CheckIPHeader(OFFSET 0) -> f{i} :: Fwd({i})"
                   f" -> [0]cl{i} :: Classifier(12/0800, -);")
        out.append(f"cl{i} [1] -> Discard; cl{i}[0] -> Unqueue -> Discard; // comment {i}")
        i += 1
    return "\n".join(out) + "\n"


def best(f, n=7):
    times = []
    for _ in range(n):
        t0 = time.process_time()
        f()
        times.append(time.process_time() - t0)
    return min(times)


def main():
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    text = make_config(lines)
    is_class = lambda name: name[:1].isupper() and name.isalnum()  # noqa: E731
    g = parse_config(text, is_class=is_class)
    t = best(lambda: parse_config(text, is_class=is_class))
    base = best(lambda: sum(range(200_000)))
    print(f"{lines} lines, {len(g.elements)} elements, {len(g.connections)} connections: "
          f"{t * 1000:.1f} ms  (baseline loop {base * 1000:.1f} ms, ratio {t / base:.1f})")


if __name__ == "__main__":
    main()

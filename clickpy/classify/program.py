"""Decision programs: compile rule lists into a DAG of word tests, optimize it,
and flatten it into the instruction array that the Cython matcher runs.

Pipeline (all cold, plain Python):

1. ``build_dag(rules)``: each rule is a boolean expression (see ``ir``) and an
   output.  Expressions are compiled in continuation style -- a test's yes and
   no branches are the already-compiled rest of the program -- and every node
   is hash-consed, so identical sub-programs are shared from the start (the
   tail "rules after this one" exists once).
2. ``optimize``: walks the DAG from the root carrying what is known about the
   packet on each edge (which tests succeeded or failed, how many bytes of
   each header are known to exist).  A branch into a test whose result is
   already implied jumps straight past it ("drifting", as Click calls it);
   knowledge from several incoming edges is intersected.  Then the DAG is
   rebuilt: tests whose branches agree vanish, identical nodes merge, and a
   test followed on its yes branch by a test of the same word that fails to
   the same place is fused into one test with the union of their masks.
3. ``flatten``: nodes are laid out parents first (every jump goes forward).
   A chain of equality tests on the same word and mask (``dst host A or dst
   host B or ...``, one rule per address) becomes one SWITCH instruction
   whose values are sorted for a binary search.

The flat program is a list of ``Insn``.  Jump targets follow the C encoding:
``j > 0`` is an instruction index, ``j <= 0`` ends the program with output
``-j - 1`` (so ``0`` is drop, ``-1`` output 0, ``-2`` output 1, ...).
"""
from __future__ import annotations

import sys
from typing import NamedTuple

from .ir import (BASE_NAMES, NBASES, ClassifyError, PacketView, Test,
                 eval_test)

OP_TEST = 0
OP_SWITCH = 1
SWITCH_MIN = 4          # a chain of this many equality tests becomes a SWITCH
NEG_FACTS_MAX = 256     # bound on remembered failed values per word and mask

_MISSING = object()


def enc_out(out: int) -> int:
    """DAG encoding of an output (-1 = drop): negative numbers."""
    return -(out + 2)


def dec_out(t: int) -> int:
    return -t - 2


class Insn(NamedTuple):
    op: int
    base: int
    offset: int
    mask: int
    value: int
    need: int
    short: bool
    yes: int
    no: int
    cases: tuple = ()   # SWITCH: ((value, target), ...) sorted by value


# ---------------------------------------------------------------------------
# The DAG

class Dag:
    """Hash-consed decision DAG.  Node ids grow as nodes are made, and a node
    is always made after its successors, so every edge goes from a larger id
    to a smaller one."""

    def __init__(self):
        self.tests: list[Test] = []
        self.yes: list[int] = []
        self.no: list[int] = []
        self._index: dict = {}
        self.merge_words = False

    def mk(self, t: Test, yes: int, no: int) -> int:
        while True:
            if yes == no:
                return yes
            if self.merge_words and yes >= 0:
                t2 = self.tests[yes]
                if (t2.base == t.base and t2.offset == t.offset and not t.short
                        and not t2.short and self.no[yes] == no
                        and (t.value & t2.mask) == (t2.value & t.mask)):
                    t = Test(t.base, t.offset, t.mask | t2.mask, t.value | t2.value,
                             max(t.need, t2.need), False)
                    yes = self.yes[yes]
                    continue
            key = (t, yes, no)
            n = self._index.get(key)
            if n is None:
                n = len(self.tests)
                self.tests.append(t)
                self.yes.append(yes)
                self.no.append(no)
                self._index[key] = n
            return n

    def compile(self, e, yes: int, no: int) -> int:
        k = e[0]
        if k == "const":
            return yes if e[1] else no
        if k == "test":
            return self.mk(e[1], yes, no)
        if k == "not":
            return self.compile(e[1], no, yes)
        if k == "and":
            t = yes
            for sub in reversed(e[1]):
                t = self.compile(sub, t, no)
            return t
        if k == "or":
            t = no
            for sub in reversed(e[1]):
                t = self.compile(sub, yes, t)
            return t
        if k == "ite":
            return self.compile(e[1], self.compile(e[2], yes, no), self.compile(e[3], yes, no))
        raise ValueError(k)

    def reachable(self, root: int) -> list[int]:
        """Reachable node ids, in decreasing order (parents first)."""
        seen = set()
        stack = [root] if root >= 0 else []
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            for m in (self.yes[n], self.no[n]):
                if m >= 0 and m not in seen:
                    stack.append(m)
        return sorted(seen, reverse=True)

    def rebuild(self, root: int, merge_words: bool = False) -> tuple["Dag", int]:
        """A fresh DAG holding only what ``root`` reaches, re-hash-consed."""
        new = Dag()
        new.merge_words = merge_words
        remap: dict[int, int] = {}

        def m(t):
            return t if t < 0 else remap[t]

        for n in reversed(self.reachable(root)):
            remap[n] = new.mk(self.tests[n], m(self.yes[n]), m(self.no[n]))
        return new, m(root)


def build_dag(rules) -> tuple[Dag, int]:
    """rules: iterable of (expression, output), first match wins; output -1
    drops.  A packet matching no rule is dropped."""
    dag = Dag()
    rules = list(rules)
    t = enc_out(-1)
    for e, out in reversed(rules):
        t = dag.compile(e, enc_out(out), t)
    return dag, t


# ---------------------------------------------------------------------------
# What is known about a packet on an edge

class Know:
    """Facts that hold for every packet travelling along an edge.

    ``long[base]``: that many bytes of the header are known to exist.
    ``words[(base, offset)][mask] = (pos, neg)``: ``pos`` maps a value v to a
    condition c meaning "word & mask == v" and ``neg`` the same for "!=".  The
    condition is None (always true) or an end position e: the fact holds if
    the packet has e bytes (a test whose short result equals its outcome may
    have been short instead of matching)."""

    __slots__ = ("long", "words")

    def __init__(self, long=None, words=None):
        self.long = long if long is not None else {}
        self.words = words if words is not None else {}

    def add(self, t: Test, outcome: bool) -> "Know":
        long = self.long
        e = t.offset + t.need
        known = long.get(t.base, 0)
        if outcome != t.short:
            cond = None
            if e > known:
                long = dict(long)
                long[t.base] = e
        else:
            cond = None if e <= known else e
        key = (t.base, t.offset)
        words = dict(self.words)
        wf = dict(words.get(key, ()))
        pos, neg = wf.get(t.mask, ({}, {}))
        if outcome:
            pos = dict(pos)
            pos[t.value] = _stronger(pos.get(t.value, _MISSING), cond)
        else:
            if len(neg) >= NEG_FACTS_MAX and t.value not in neg:
                return Know(long, self.words)
            neg = dict(neg)
            neg[t.value] = _stronger(neg.get(t.value, _MISSING), cond)
        wf[t.mask] = (pos, neg)
        words[key] = wf
        return Know(long, words)

    def implies(self, t: Test):
        """True or False if every packet here gives that result for ``t``,
        None if unknown."""
        known = self.long.get(t.base, 0)
        e2 = t.offset + t.need
        wf = self.words.get((t.base, t.offset))
        m = None
        if wf:
            m2, v2 = t.mask, t.value

            def ok(c):
                return c is None or c <= known or c <= e2

            for m1, (pos, neg) in wf.items():
                for v1, c in pos.items():
                    if not ok(c):
                        continue
                    if (m2 & ~m1) == 0:
                        m = (v1 & m2) == v2
                        break
                    if (v1 ^ v2) & m1 & m2:
                        m = False
                        break
                if m is not None:
                    break
                if neg and (m1 & ~m2) == 0:
                    c = neg.get(v2 & m1, _MISSING)
                    if c is not _MISSING and ok(c):
                        m = False
                        break
                    if m1 == m2 and (m1 & (m1 - 1)) == 0:
                        c = neg.get(v2 ^ m1, _MISSING)
                        if c is not _MISSING and ok(c):
                            m = True
                            break
        if m is None:
            return None
        if e2 <= known or m == t.short:
            return m
        return None


def _stronger(a, b):
    """Combine two conditions for the same fact on one path (either holds)."""
    if a is _MISSING:
        return b
    if a is None or b is None:
        return None
    return min(a, b)


def _weaker(a, b):
    """Condition for a fact known on two merging paths (both must hold)."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def intersect(a: Know, b: Know) -> Know:
    if a is b:
        return a
    long = {k: min(v, b.long[k]) for k, v in a.long.items() if k in b.long}
    words = {}
    for key, wa in a.words.items():
        wb = b.words.get(key)
        if not wb:
            continue
        wf = {}
        for mask, (pa, na) in wa.items():
            pb_nb = wb.get(mask)
            if pb_nb is None:
                continue
            pb, nb = pb_nb
            pos = {v: _weaker(c, pb[v]) for v, c in pa.items() if v in pb}
            neg = {v: _weaker(c, nb[v]) for v, c in na.items() if v in nb}
            if pos or neg:
                wf[mask] = (pos, neg)
        if wf:
            words[key] = wf
    return Know(long, words)


def drift(dag: Dag, root: int) -> bool:
    """Redirect every branch past tests whose result is implied on that
    branch.  Returns True if anything changed."""
    if root < 0:
        return False
    changed = False
    pending: dict[int, Know] = {root: Know()}
    for n in dag.reachable(root):
        k = pending.pop(n, None)
        if k is None:           # no longer reachable
            continue
        t = dag.tests[n]
        for outcome in (True, False):
            ke = k.add(t, outcome)
            tgt = dag.yes[n] if outcome else dag.no[n]
            orig = tgt
            while tgt >= 0:
                r = ke.implies(dag.tests[tgt])
                if r is None:
                    break
                ke = ke.add(dag.tests[tgt], r)
                tgt = dag.yes[tgt] if r else dag.no[tgt]
            if tgt != orig:
                changed = True
                if outcome:
                    dag.yes[n] = tgt
                else:
                    dag.no[n] = tgt
            if tgt >= 0:
                prev = pending.get(tgt)
                pending[tgt] = ke if prev is None else intersect(prev, ke)
    return changed


def optimize(dag: Dag, root: int, rounds: int = 4) -> tuple[Dag, int]:
    dag, root = dag.rebuild(root)
    for _ in range(rounds):
        changed = drift(dag, root)
        n_before = len(dag.reachable(root))
        dag, root = dag.rebuild(root, merge_words=True)
        if not changed and len(dag.reachable(root)) == n_before:
            break
    return dag, root


# ---------------------------------------------------------------------------
# The flat program

class Program:
    """A flat decision program, ready for the C matcher (``_engine.CProgram``).

    ``insns``: list of Insn; ``output_everything``: set (an output, or -1 for
    drop) when the result does not depend on the packet, in which case
    ``insns`` is empty.  ``noutputs``: outputs the element has.  ``warnings``:
    (message, pattern index) pairs, e.g. patterns that can never match.
    """

    def __init__(self, insns, output_everything=None, noutputs=0, warnings=()):
        self.insns: list[Insn] = list(insns)
        self.output_everything = output_everything
        self.noutputs = noutputs
        self.warnings: list = list(warnings)
        self.safe = [0] * NBASES
        for i in self.insns:
            self.safe[i.base] = max(self.safe[i.base], i.offset + max(4, i.need))

    def __len__(self):
        return len(self.insns)

    def outputs_used(self) -> set[int]:
        if self.output_everything is not None:
            return {self.output_everything}
        used = set()
        for i in self.insns:
            targets = [i.yes, i.no] + [t for _, t in i.cases]
            used.update(-t - 1 for t in targets if t <= 0)
        return used

    def match(self, pkt: PacketView) -> int:
        """Slow Python interpreter of the flat program (tests)."""
        if self.output_everything is not None:
            return self.output_everything
        pc = 0
        while True:
            i = self.insns[pc]
            if i.op == OP_TEST:
                t = Test(i.base, i.offset, i.mask, i.value, i.need, i.short)
                j = i.yes if eval_test(t, pkt) else i.no
            else:
                if pkt.avail(i.base) < i.offset + i.need:
                    j = i.no
                else:
                    w = pkt.word(i.base, i.offset) & i.mask
                    j = i.no
                    for v, tgt in i.cases:
                        if v == w:
                            j = tgt
                            break
            if j <= 0:
                return -j - 1
            pc = j

    def dump(self) -> str:
        """Human-readable program, in the spirit of Click's `program` handler."""
        lines = []

        def jump(j):
            if j > 0:
                return f"step {j}"
            out = -j - 1
            return "[drop]" if out < 0 else f"[{out}]"

        for n, i in enumerate(self.insns):
            where = f"{BASE_NAMES[i.base]}+{i.offset}"
            if i.op == OP_TEST:
                s = (f"{n:3d} {where:>10}/{i.value:08x}%{i.mask:08x}"
                     f"  yes->{jump(i.yes)}  no->{jump(i.no)}")
                if i.short:
                    s += "  short->yes"
                if i.need < 4 and (i.mask & ((1 << (8 * (4 - i.need))) - 1)) == 0:
                    pass
                elif i.need != 4:
                    s += f"  need {i.need}"
                lines.append(s)
            else:
                lines.append(f"{n:3d} {where:>10}%{i.mask:08x} switch"
                             f" ({len(i.cases)} values)  default->{jump(i.no)}")
                for v, t in i.cases:
                    lines.append(f"{'':15}=={v:08x}  ->{jump(t)}")
        if not self.insns:
            out = self.output_everything
            lines.append(f"all->{'[drop]' if out is None or out < 0 else f'[{out}]'}")
        safe = ", ".join(f"{BASE_NAMES[b]} {s}" for b, s in enumerate(self.safe) if s)
        lines.append(f"safe length {safe or 0}")
        return "\n".join(lines) + "\n"

    __str__ = dump


def flatten(dag: Dag, root: int, noutputs: int = 0, use_switch: bool = True) -> Program:
    if root < 0:
        return Program([], dec_out(root), noutputs)

    # SWITCH chains: node -> (cases, default) for chains starting at node
    chains: dict[int, tuple] = {}
    if use_switch:
        for n in dag.reachable(root):
            t = dag.tests[n]
            if t.short:
                continue
            cases = [(t.value, dag.yes[n])]
            seen = {t.value}
            m = dag.no[n]
            while m >= 0:
                t2 = dag.tests[m]
                if (t2.base, t2.offset, t2.mask, t2.need, t2.short) != \
                        (t.base, t.offset, t.mask, t.need, False) or t2.value in seen:
                    break
                seen.add(t2.value)
                cases.append((t2.value, dag.yes[m]))
                m = dag.no[m]
            if len(cases) >= SWITCH_MIN:
                chains[n] = (cases, m)

    # lay out reachable nodes parents first (ids decrease along edges)
    seen = set()
    stack = [root]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if n in chains:
            cases, default = chains[n]
            succ = [default] + [t for _, t in cases]
        else:
            succ = [dag.yes[n], dag.no[n]]
        stack.extend(s for s in succ if s >= 0 and s not in seen)
    order = sorted(seen, reverse=True)
    index = {n: k for k, n in enumerate(order)}

    def j(t):
        return index[t] if t >= 0 else -(dec_out(t) + 1)

    insns = []
    for n in order:
        t = dag.tests[n]
        if n in chains:
            cases, default = chains[n]
            cs = tuple(sorted((v, j(tg)) for v, tg in cases))
            insns.append(Insn(OP_SWITCH, t.base, t.offset, t.mask, 0, t.need, False,
                              0, j(default), cs))
        else:
            insns.append(Insn(OP_TEST, t.base, t.offset, t.mask, t.value, t.need, t.short,
                              j(dag.yes[n]), j(dag.no[n])))
    return Program(insns, None, noutputs)


def compile_rules(rules, noutputs: int = 0, optimize_program: bool = True,
                  use_switch: bool = True) -> Program:
    """rules: list of (expression, output) -- output -1 drops.  Returns the
    flat program; ``optimize_program=False`` gives the plain compiled DAG
    (tests compare the two)."""
    rules = list(rules)
    dag, root = build_dag(rules)
    if optimize_program:
        dag, root = optimize(dag, root)
    prog = flatten(dag, root, noutputs, use_switch=use_switch and optimize_program)
    used = prog.outputs_used()
    for idx, (_, out) in enumerate(rules):
        if out >= 0 and out not in used:
            prog.warnings.append((f"pattern {idx} matches no packets", idx))
    return prog


__all__ = ["Program", "Insn", "OP_TEST", "OP_SWITCH", "compile_rules", "build_dag",
           "optimize", "flatten", "ClassifyError"]

sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))

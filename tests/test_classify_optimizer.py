"""The optimizer never changes a program's results.

Random rule lists over a few overlapping words (so that tests imply, contradict
and shadow each other), random short-packet behaviour, random header
lengths: the optimized program, the plain compiled one and a direct
evaluation of the expressions must agree on every packet.
"""
import random

from hypothesis import HealthCheck, given, settings, strategies as st

from clickpy.classify.ir import (AND, ITE, NOT, OR, TRUE, PacketView, eval_rules, make_test)
from clickpy.classify.program import compile_rules
from clickpy.classify._engine import CProgram, match_bytes

WORDS = [(0, 0), (0, 4), (2, 0), (2, 4), (3, 0)]
MASKS = [0xFF000000, 0xFFFF0000, 0x0000FFFF, 0xFFFFFFFF, 0x80000000, 0x00010000, 0x0F000000]
VALUES = [0, 0x01000000, 0x80000000, 0x00010000, 0x01010000, 0xFFFFFFFF, 0x0000FFFF, 0x08000000]


@st.composite
def word_tests(draw):
    base, off = draw(st.sampled_from(WORDS))
    mask = draw(st.sampled_from(MASKS))
    value = draw(st.sampled_from(VALUES)) & mask
    need = draw(st.sampled_from([None, None, 4, 6]))
    return make_test(base, off, mask, value, need=need, short=draw(st.booleans()))


exprs = st.recursive(word_tests(), lambda sub: st.one_of(
    st.builds(lambda a, f: NOT(a, flip=f), sub, st.booleans()),
    st.builds(lambda a, b: AND(a, b), sub, sub),
    st.builds(lambda a, b: OR(a, b), sub, sub),
    st.builds(ITE, sub, sub, sub)), max_leaves=8)
rules = st.lists(st.tuples(exprs, st.integers(-1, 3)), min_size=1, max_size=8)


def packets(seed, n=120):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        ln = rnd.randrange(0, 14)
        buf = bytes(rnd.choice([0, 1, 8, 0x80, 0xFF, 0x01]) for _ in range(ln))
        net = rnd.choice([None, 0, 1, 2, ln])
        trans = rnd.choice([None, 0, 3, ln])
        if net is not None and net > ln:
            net = ln
        if trans is not None and trans > ln:
            trans = ln
        # keep the IHL-derived transport pointer out of the picture
        if trans is None:
            trans = ln
        out.append(PacketView(buf, data=0, net=net, trans=trans))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules, st.integers(0, 2**32))
def test_optimizer_preserves_results(rule_list, seed):
    opt = compile_rules(rule_list, noutputs=4)
    plain = compile_rules(rule_list, noutputs=4, optimize_program=False)
    c_opt, c_plain = CProgram(opt), CProgram(plain, branchy=False)
    for pv in packets(seed):
        want = eval_rules(rule_list, pv)
        d, _, n, t = pv.starts
        args = dict(data=d, net=n, trans=t)
        assert plain.match(pv) == want
        assert opt.match(pv) == want, opt.dump()
        assert match_bytes(c_plain, pv.buf, **args) == want
        assert match_bytes(c_opt, pv.buf, **args) == want, opt.dump()
    assert len(opt) <= 5 * len(plain) + 300     # dispatch duplicates code, within a budget


def test_optimizer_shrinks_real_filters():
    from clickpy.classify import compile_ipfilter
    rules = ["allow tcp && dst port 80", "allow tcp && dst port 443", "allow udp && dst port 53",
             "allow tcp && src host 10.0.0.1", "deny all"]
    opt = compile_ipfilter(rules, 1)
    plain = compile_ipfilter(rules, 1, optimize=False)
    assert len(opt) < len(plain)
    # once the protocol is known to be TCP, it is not tested again on that path
    def tests_tcp(i):
        k = 9 - i.offset                     # the protocol byte in the 8-byte window
        return i.base == 2 and 0 <= k < 8 and (i.mask >> (8 * (7 - k))) & 0xFF == 0xFF \
            and (i.value >> (8 * (7 - k))) & 0xFF == 6
    assert sum(1 for i in opt.insns if tests_tcp(i)) == 1, opt.dump()


def test_constant_rules_fold():
    prog = compile_rules([(TRUE, 2)], noutputs=3)
    assert prog.output_everything == 2 and not prog.insns

"""Malformed patterns give a ClassifyError with a column inside the text,
never another exception."""
from hypothesis import given, settings, strategies as st

from clickpy.classify import ClassifyError, compile_classifier, compile_ipfilter

WORDS = ["allow", "deny", "drop", "0", "1", "5", "tcp", "udp", "icmp", "src", "dst", "and", "or",
         "not", "!", "&&", "||", "(", ")", "?", ":", "host", "net", "port", "proto", "ip", "ether",
         "10.0.0.1", "10/8", "1.2.3.4/24", "mask", "255.0.0.0", "00:11:22:33:44:55", "80", "www",
         "echo", "syn", "ack", "opt", "win", "type", "ttl", "tos", "len", "frag", "unfrag", "ect",
         "ce", "==", "!=", "<", ">", "<=", ">=", "=", "&", "0xff", "[", "]", "2:2", "3", "-", "any",
         "all", "true", "false", "1000-2000", "transp", "tcp[13]", "ip[9]", ",", "%", "@", "\t"]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=9), st.booleans())
def test_ipfilter_garbage(words, spaced):
    text = (" " if spaced else "").join(words)
    try:
        prog = compile_ipfilter([text], noutputs=2)
    except ClassifyError as e:
        assert 0 <= e.column <= len(text), (text, e)
        assert e.message
    else:
        assert prog.output_everything is not None or prog.insns


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789abcdefABCDEF?%/! -xz\t", max_size=20))
def test_classifier_garbage(text):
    try:
        compile_classifier([text])
    except ClassifyError as e:
        assert 0 <= e.column <= len(text), (text, e)

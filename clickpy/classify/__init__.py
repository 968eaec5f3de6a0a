"""Packet classification engine shared by Classifier, IPClassifier and IPFilter.

Cold side (plain Python): pattern compilers produce boolean expressions over
32-bit word tests (`ir`), which `program` compiles into one optimized
decision program.  Hot side (Cython): `engine.pxd` holds the instruction
structs and the inline matcher `cls_classify`; `_engine.CProgram` holds a
program in C memory.

    compile_classifier(["12/0806 20/0001", "12/0800", "-"])  -> Program
    compile_ipclassifier(["tcp port 80", "udp", "-"])         -> Program
    compile_ipfilter(["allow udp && dst port 53", "deny all"], noutputs=1)
    Program.dump()                                            -> `program` handler text
    Program.warnings: [(message, pattern index, column or -1)]

Errors raise ClassifyError (message, column = 0-based offset in the pattern
text, index = pattern number).  Run a program with
clickpy.classify._engine.CProgram(program) and, from Cython,
engine.cls_classify(&cprogram.prog, data, end, mac, net, trans).
"""
# Submodules load on first use, so a config with only a Classifier does not
# pay for the IPFilter language at start-up.
_EXPORTS = {
    "ClassifyError": "ir", "Program": "program", "compile_rules": "program",
    "compile_classifier": "classifier", "compile_ipclassifier": "ipfilter", "compile_ipfilter": "ipfilter",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'clickpy.classify' has no attribute {name!r}")
    value = getattr(__import__(f"clickpy.classify.{module}", fromlist=[name]), name)
    globals()[name] = value
    return value


__all__ = ["ClassifyError", "Program", "compile_rules", "compile_classifier",
           "compile_ipfilter", "compile_ipclassifier"]

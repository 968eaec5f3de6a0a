"""clickpy: a Click-style modular router in Python, with Cython elements.

The element library lives in <repo>/elements and is installed as
clickpy.elements; in a source checkout the symlink clickpy/elements points
there, so the same names import from the tree.
"""

__version__ = "0.1.0"

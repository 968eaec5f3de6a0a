"""clickpy: a Click-style modular router in Python, with Cython elements."""
import os as _os

__version__ = "0.1.0"

# In a source checkout the element library sits beside this package, in
# <repo>/elements, and is installed as clickpy.elements: let the checkout
# resolve that name the same way.
_here = _os.path.dirname(_os.path.abspath(__file__))
if not _os.path.isdir(_os.path.join(_here, "elements")) and _os.path.isdir(
        _os.path.join(_os.path.dirname(_here), "elements")):
    __path__.append(_os.path.dirname(_here))

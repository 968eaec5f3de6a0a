"""Click's element library, installed as clickpy.elements."""

import pytest

from clickpy.lang import parser as _parser


@pytest.fixture(autouse=True)
def _no_safety_net(monkeypatch):
    """Let parser bugs surface as real exceptions instead of ConfigError."""
    monkeypatch.setattr(_parser, "SAFETY_NET", False)

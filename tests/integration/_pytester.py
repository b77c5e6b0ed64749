"""The ``pytest.ini`` of the projects in which the pytester tests run pytest."""

from __future__ import annotations


def pytest_ini(extra: str = "") -> str:
    """The ini text: the project importable from its root, warnings as errors, plus ``extra``."""
    return f"""
[pytest]
pythonpath = .
addopts = -p no:hypothesispytest -p no:cacheprovider
filterwarnings = error
{extra}
"""

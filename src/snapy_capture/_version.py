"""The package version, kept in one place (hatch reads it from here)."""

__version__ = "0.1.0"


def python_version() -> str:
    """What ``platform.python_version()`` says, without importing :mod:`platform` (which,
    with :mod:`sysconfig`, costs a capturing process's start-up ~2 ms): the first word of
    ``sys.version`` ("3.11.7", "3.13.0rc1"), as platform parses it, with a missing micro
    version filled in as platform does."""
    import sys  # noqa: PLC0415 - this module is read by hatch; keep its top plain

    parts = sys.version.split(maxsplit=1)[0].split(".")
    if len(parts) == 2:
        parts.append("0")
    return ".".join(parts)

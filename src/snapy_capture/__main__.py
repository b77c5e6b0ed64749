"""``python -m snapy_capture``: the ``snapy-capture`` command line."""

from __future__ import annotations

from .cli import main_entry

if __name__ == "__main__":
    main_entry()

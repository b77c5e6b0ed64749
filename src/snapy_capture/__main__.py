"""``python -m snapy_capture``: the ``snapy-capture`` command line."""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and sys.path and sys.path[0] in ("", os.getcwd()):
    # ``python -m`` puts the working directory first on sys.path; the console script does not.
    # Reading captures must not import a module planted next to them: behave as the script.
    del sys.path[0]

from snapy_capture.cli import main_entry  # after sys.path is set

if __name__ == "__main__":
    main_entry()

"""What the hook says about where a function is held names the dict key without its secrets.

The warning "references the hook cannot rebind still hold the unwrapped function ... in a dict
under '<key>'", and the report's ``rebound``/``held_unwrapped`` lists, showed a text key as
it was: a webhook route keyed by its token (``{f"/hook/{TOKEN}": handler}``), or a DSN, went
to stderr (a log file) and into the ``--report`` file.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from snapy_capture.hook import install_import_hook, uninstall_import_hook
from snapy_capture.hook._patch import label_key

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
PASSWORD = "Zq8-unlikely-pw-55"


def test_a_text_key_is_labelled_with_its_secrets_masked() -> None:
    assert label_key(f"/hook/{TOKEN}") == "'/hook/[FILTERED: pii]'"
    assert PASSWORD not in label_key(f"postgres://app:{PASSWORD}@db/x")
    assert label_key("handlers") == "'handlers'"  # plain keys as they are


def test_the_warning_naming_an_unreachable_holder_shows_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capture_dir: Path
) -> None:
    (tmp_path / "tgt_bot.py").write_text("def webhook(update):\n    return update\n")
    (tmp_path / "tgt_botapp.py").write_text(
        "from tgt_bot import webhook\n"
        "class App:\n    pass\n"
        "app = App()\n"
        f"app.routes = {{'/hook/{TOKEN}': webhook}}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import tgt_botapp  # type: ignore[import-not-found]  # noqa: F401 - holds the original

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            install_import_hook({"targets": ["tgt_bot:webhook"]})
        messages = [str(w.message) for w in caught]
        assert any("still hold the unwrapped function" in m for m in messages), messages
        assert not any(TOKEN in m for m in messages), messages
        assert any("'/hook/[FILTERED: pii]'" in m for m in messages), messages
    finally:
        uninstall_import_hook()
        sys.modules.pop("tgt_botapp", None)

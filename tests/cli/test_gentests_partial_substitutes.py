"""A gen-tests refusal names the filtered paths that still have no test value.

Found on a tomlkit app: ``gen-tests settings:SettingsStore.get --substitutes subs.py`` with
test values for ``self.api_key`` and ``self.password`` still said ``the filters removed
self.api_key, self.password, self.doc; give SUBSTITUTES for these paths``: it read as if the
file had been ignored, when only ``self.doc`` (a document, no literal) was missing.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from snapy_capture import capture_args, flush
from snapy_capture.cli import main


def _gen(capture_dir: Path, out: Path, *extra: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(
        ["gen-tests", "--path", str(capture_dir), "-o", str(out), *extra, "connect"],
        stdout=io.StringIO(),
        stderr=err,
        stdin=io.StringIO(),
    )
    return code, err.getvalue()


@capture_args(retention=None)
def connect(host: str, password: str, api_key: str, token: str) -> str:
    return host


def test_the_refusal_lists_only_the_paths_still_missing(capture_dir: Path, tmp_path: Path) -> None:
    connect("db", "hunter2-x", "key-123456", "tok-987654")
    assert flush(timeout=30)
    out = tmp_path / "test_connect.py"

    code, err = _gen(capture_dir, out)
    assert code == 1
    assert "the filters removed password, api_key, token; give SUBSTITUTES" in err

    subs = tmp_path / "subs.json"
    subs.write_text(json.dumps({"password": "pw", "api_key": "k"}), encoding="utf-8")
    code, err = _gen(capture_dir, out, "--substitutes", str(subs))
    assert code == 1
    assert err.count("\n") == 1, err
    assert "would be skipped: the filters removed token" in err
    assert "(test values given for password, api_key)" in err
    assert "give SUBSTITUTES for these paths" in err
    assert not out.exists()

    subs.write_text(json.dumps({"password": "pw", "api_key": "k", "token": "t"}), "utf-8")
    code, err = _gen(capture_dir, out, "--substitutes", str(subs))
    assert code == 0, err


class Document(dict):  # type: ignore[type-arg]
    """Stands for tomlkit's TOMLDocument: a dict subclass equal to its items."""


def test_a_substitute_equal_to_a_literal_of_another_type_is_refused(
    capture_dir: Path, tmp_path: Path
) -> None:
    """gen-tests wrote tomlkit's document as the plain dict it is equal to: the case replayed
    on a dict, silently. Such a substitute belongs in the module's SUBSTITUTES, by hand."""
    connect("db", "hunter2-x", "key-123456", "tok-987654")
    assert flush(timeout=30)
    out = tmp_path / "test_connect.py"
    subs = tmp_path / "subs.py"
    for value in ("Document(a=1)", "{'a': [True]}", "{'a': (1, Document())}"):
        given = {"password": value, "api_key": "'k'", "token": "'t'"}
        body = ", ".join(f"{key!r}: {text}" for key, text in given.items())
        subs.write_text(
            f"class Document(dict):\n    pass\nSUBSTITUTES = {{{body}}}\n", encoding="utf-8"
        )
        code, err = _gen(capture_dir, out, "--substitutes", str(subs), "--force")
        if "Document" in value:
            assert code == 1, value
            assert "substitute 'password' is not a Python literal" in err
            assert not out.exists()
        else:
            assert code == 0, err
            assert "\"password\": {'a': [True]}," in out.read_text(encoding="utf-8")
            out.unlink()

"""Filtered inputs: skipped in both modes, naming the paths, unless substitutes are given."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import SnapyCaptureError, capture_args
from snapy_capture.pytest_plugin import (
    assert_replay_matches,
    replay_cases,
    replay_outcome,
    replay_records,
)
from snapy_capture.replay import load_substitutes
from snapy_capture.storage import CaptureStorage


def test_both_modes_skip_filtered_arguments_naming_them(capture_dir: Path) -> None:
    """A redacted password never reaches the function as '[FILTERED: ...]' in either mode."""

    @capture_args(record_result=True)
    def login(user: str, password: str, *, options: dict[str, Any]) -> str:
        return f"{user}:{len(password)}:{options['api_token']}"

    login("bob", "hunter22", options={"api_token": "t0k", "retries": 3})
    (case,) = replay_cases("login")
    (record,) = replay_records("login")
    for entry in (case, record):
        assert entry.marks[0].name == "skip"
        reason = entry.marks[0].kwargs["reason"]
        assert "(options['api_token'], password)" in reason
        assert "hunter22" not in reason
        assert "t0k" not in reason
    (with_result,) = replay_records("login", with_result=True)
    assert with_result.marks[0].kwargs["reason"] == reason


def test_substitutes_put_test_values_in_place_and_the_case_runs(capture_dir: Path) -> None:
    """Positional, keyword and nested paths are replaced; the replay then runs."""

    @capture_args(record_result=True)
    def login(user: str, password: str, *, options: dict[str, Any]) -> str:
        return f"{user}:{password}:{options['api_token']}:{options['retries']}"

    login("bob", "hunter22", options={"api_token": "t0k", "retries": 3})
    substitutes = {"password": "test-pw", "options['api_token']": "test-token"}
    (case,) = replay_cases("login", substitutes=substitutes)
    assert not case.marks
    assert case.values == (
        ("bob", "test-pw"),
        {"options": {"api_token": "test-token", "retries": 3}},
    )
    (entry,) = replay_records("login", substitutes=substitutes)
    (checked,) = replay_records("login", with_result=True, substitutes=substitutes)
    assert not entry.marks
    assert replay_outcome(login, entry.values[0]) == "bob:test-pw:test-token:3"
    # The recorded result holds the real values' placeholders: they match anything.
    assert_replay_matches(login, checked.values[0])


def test_substitutes_reach_the_instance_and_items_of_arguments() -> None:
    """self.<attr> replaces a filtered attribute of the captured instance, mapping['k'] an
    item of a dict argument (string.Template.substitute, mapping being positional-only)."""
    template = string.Template("$who")
    template.template = "[FILTERED: size:str of 9000 characters]"
    record = {
        "module": "string",
        "qualname": "Template.substitute",
        "timestamp": "2026-12-01T10:00:00.000000Z",
        "args": [{"who": "ann", "password": "[FILTERED: name:password]"}],
        "kwargs": {},
        "self": template,
        "metadata": {
            "redactions": [
                {"path": "self.template", "reason": "size:str of 9000 characters"},
                {"path": "mapping['password']", "reason": "name:password"},
            ]
        },
    }
    with pytest.raises(pytest.skip.Exception, match=r"\(mapping\['password'\], self\.template\)"):
        replay_outcome(string.Template.substitute, record)
    outcome = replay_outcome(
        string.Template.substitute,
        record,
        substitutes={"self.template": "$who:$password", "mapping['password']": "pw"},
    )
    assert outcome["outcome"] == "ann:pw"
    assert record["self"].template.startswith("[FILTERED")  # the record is left as it was
    assert record["args"][0]["password"] == "[FILTERED: name:password]"


def test_a_substitute_for_an_unfiltered_value_leaves_it_alone(capture_dir: Path) -> None:
    """A suite-wide 'password' does not replace a password that was captured as it was."""

    @capture_args()
    def greet(name: str) -> str:
        return f"hi {name}"

    greet("ann")
    (case,) = replay_cases("greet", substitutes={"name": "bob"})
    assert case.values == (("ann",), {})


def test_substitutes_file_formats_and_errors(tmp_path: Path) -> None:
    """.py (SUBSTITUTES), .json and .yaml files load; a bad one is one clear error."""
    (tmp_path / "subs.py").write_text('SUBSTITUTES = {"password": "pw", "self.key": 1}\n')
    (tmp_path / "subs.json").write_text('{"password": "pw"}')
    (tmp_path / "subs.yaml").write_text("password: pw\n")
    assert load_substitutes(tmp_path / "subs.py") == {"password": "pw", "self.key": 1}
    assert load_substitutes(tmp_path / "subs.json") == {"password": "pw"}
    assert load_substitutes(tmp_path / "subs.yaml") == {"password": "pw"}
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(SnapyCaptureError, match=r"bad\.json: expected a mapping"):
        load_substitutes(tmp_path / "bad.json")
    with pytest.raises(SnapyCaptureError, match=r"subs\.txt: expected a \.py, \.json"):
        load_substitutes(tmp_path / "subs.txt")


def test_an_unstorable_argument_does_not_skip_the_case_by_itself(tmp_path: Path) -> None:
    """An argument pickle could not store (a socket) is not a secret: the case is handed out
    with its placeholder, and gen-tests' SUBSTITUTES block marks it optional."""
    CaptureStorage(tmp_path).save(
        {
            "module": "m",
            "qualname": "f",
            "args": ["[FILTERED: unpicklable:socket]"],
            "kwargs": {},
            "metadata": {"redactions": [{"path": "conn", "reason": "unpicklable:socket"}]},
        }
    )
    (entry,) = replay_cases("m:f", path=tmp_path)
    assert not entry.marks
    assert entry.values == (("[FILTERED: unpicklable:socket]",), {})


def test_a_result_mismatch_names_the_substitutes_the_replay_ran_with(capture_dir: Path) -> None:
    """A recorded failed login replayed with the test password succeeds: the failure says the
    case ran with a test value for password (a substitute replaces every capture's value)."""
    from snapy_capture.pytest_plugin import replay_and_compare

    @capture_args(record_result=True)
    def login(user: str, password: str) -> str:
        if password != "test-pw":
            raise PermissionError(f"bad password for {user}")
        return user

    with pytest.raises(PermissionError):
        login("mallory", "wrong-pw-123")
    (record,) = replay_records("login", with_result=True, substitutes={"password": "test-pw"})
    outcome = replay_and_compare(login, record.values[0], substitutes={"password": "test-pw"})
    assert not outcome.matches
    assert "replayed with test values (substitutes) for: password" in outcome.diff
    assert "wrong-pw-123" not in outcome.diff
    assert "test-pw" not in outcome.diff  # the paths are named, not the values

    @capture_args(record_result=True)
    def greet(user: str, password: str) -> str:
        return user

    greet("ada", "pw-123-secret")
    (same,) = replay_records("greet", with_result=True)
    assert_replay_matches(greet, same.values[0], substitutes={"password": "x"})

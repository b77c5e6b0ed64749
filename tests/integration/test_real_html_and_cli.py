"""Secrets in the shapes two real packages give them (BeautifulSoup 4, click), and a click
command's outcome replayed (pinned in the ``realpkgs`` extra).

BeautifulSoup: a text node (``NavigableString``, a str subclass) carries its ``parent`` and the
whole document with it; an input's attributes are ``{"name": "password", "value": pw}``; a
``<meta name="csrf-token" content=...>`` likewise. click: a ``token`` option's source is an
IntEnum member, and a command's ``main`` ends in ``SystemExit``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from snapy_capture import capture_args, flush, load_capture_dict
from snapy_capture.pytest_plugin import replay_outcome

bs4 = pytest.importorskip("bs4")
click = pytest.importorskip("click")
click_testing = pytest.importorskip("click.testing")

PASSWORD = "Zq8v-hunter2-pw"
CSRF = "c5rf-9f8e7d6c5b4a3928"
STRIPE = "sk_live_" + "51HxKq2eZvKYlo2C8a9b0c1d"
PAGE = f"""<html><head><meta name="csrf-token" content="{CSRF}">
<script>var KEY = "{STRIPE}";</script></head><body>
<form action="/login"><input name="user" value="ada">
<input type="password" name="password" value="{PASSWORD}"></form>
<p>Contact <b>sales</b></p></body></html>"""


def text_of(tag: Any) -> str:
    return str(tag.get_text())


def value_of(tag: Any) -> Any:
    return tag.get("value")


def _on_disk(root: Path) -> bytes:
    return b"".join(path.read_bytes() for path in root.rglob("*") if path.is_file())


@pytest.mark.parametrize("options", [{}, {"async_storage": True}])
def test_no_secret_of_a_parsed_page_reaches_the_disk(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    soup = bs4.BeautifulSoup(PAGE, "html.parser")

    bold_text = capture_args(path=tmp_path, record_result=True, **options)(text_of)
    field = capture_args(path=tmp_path, record_result=True, **options)(value_of)
    assert bold_text(soup.find("b").string) == "sales"  # a text node: the document behind it
    assert [field(tag) for tag in soup.find_all("input")] == ["ada", PASSWORD]
    flush()
    on_disk = _on_disk(tmp_path)
    for secret in (PASSWORD, CSRF, STRIPE):
        assert secret.encode() not in on_disk, secret
    results = [record["result"]["value"] for record in _records(tmp_path, "value_of")]
    assert sorted(results) == ["[FILTERED: name:password]", "ada"]


def _records(root: Path, name: str) -> list[dict[str, Any]]:
    folder = next(p for p in root.iterdir() if p.name.endswith(f"%3A{name}"))
    records = []
    for index, capture in enumerate(sorted(folder.glob("*.cap"))):
        one = root / f"one-{name}-{index}" / folder.name
        one.mkdir(parents=True)
        (one / capture.name).write_bytes(capture.read_bytes())
        records.append(load_capture_dict(unquote(folder.name), path=one.parent))
    return records


def test_a_click_option_source_masks_nothing_and_main_replays_its_exit(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    @capture_args(path=tmp_path)
    def parse_env(ctx: Any, param: Any, values: tuple[str, ...]) -> dict[str, str]:
        return dict(item.split("=", 1) for item in values)

    @click.command()
    @click.option("--token", required=True)
    @click.option("--retries", type=click.IntRange(1, 9), default=3)
    @click.option("-e", "--env", multiple=True, callback=parse_env)
    def deploy(token: str, retries: int, env: dict[str, str]) -> None:
        seen.update(retries=retries, env=env)

    runner = click_testing.CliRunner()
    argv = ["--token", "tok-Zq8v-hunter2", "--retries", "2", "-e", "MODE=blue"]
    result = runner.invoke(deploy, argv)
    assert result.exit_code == 0, result.output
    assert seen == {"retries": 2, "env": {"MODE": "blue"}}
    flush()
    assert b"tok-Zq8v-hunter2" not in _on_disk(tmp_path)
    (folder,) = tmp_path.iterdir()
    record = load_capture_dict(unquote(folder.name), path=tmp_path)
    ctx = record["args"][0]
    # The token's source (ParameterSource.COMMANDLINE == 2) is no secret: every other 2 (the
    # --retries given, another option's source) was masked as if it were one.
    assert ctx.params["retries"] == 2
    assert ctx._parameter_source["token"] is click.core.ParameterSource.COMMANDLINE
    judged_secret = [
        entry["path"]
        for entry in record["metadata"]["redactions"]
        if not entry["reason"].startswith(("unstorable", "unserializable"))
    ]
    assert judged_secret == ["ctx.params['token']"]

    main_record = {
        "module": "click.core",
        "qualname": "Command.main",
        "args": [],
        "kwargs": {"args": ["-e", "X=1"], "standalone_mode": True},  # no --token: usage error
        "metadata": {},
    }
    outcome = replay_outcome(deploy.main, main_record)
    assert outcome == {"raised": "SystemExit", "message": "2"}

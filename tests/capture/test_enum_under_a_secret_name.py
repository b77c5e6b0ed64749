"""An Enum member under a sensitive name (click's ``Context._parameter_source['token']``,
the IntEnum ``ParameterSource.ENVIRONMENT``) is a constant of the program's source, not a
secret.

It used to be redacted by the name, and its value (a small int) was then taken for a secret
given to the call: every equal int elsewhere in the arguments and the result (a depth, a
count of replicas) was masked, and no replay could run without substitutes that are not
literals.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush, load_capture_dict


class Source(enum.IntEnum):
    COMMANDLINE = enum.auto()
    ENVIRONMENT = enum.auto()
    DEFAULT = enum.auto()


class Context:
    def __init__(self) -> None:
        self.depth = 2
        self.params = {"token": "tok-Zq8v-hunter2", "replicas": 2, "retries": 3}
        self.sources = {"token": Source.ENVIRONMENT, "replicas": Source.COMMANDLINE}


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_an_enum_member_under_a_secret_name_is_kept_and_masks_nothing(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    @capture_args(path=tmp_path, **options)
    def invoke(ctx: Context) -> dict[str, Any]:
        return {"replicas": ctx.params["replicas"], "token_source": ctx.sources["token"]}

    invoke(Context())
    flush()
    record = load_capture_dict("invoke", path=tmp_path)
    (ctx,) = record["args"]
    assert ctx.params == {"token": "[FILTERED: name:token]", "replicas": 2, "retries": 3}
    assert ctx.sources == {"token": Source.ENVIRONMENT, "replicas": Source.COMMANDLINE}
    assert ctx.depth == 2
    assert record["metadata"]["redactions"] == [
        {"path": "ctx.params['token']", "reason": "name:token"}
    ]
    if "result" in record:
        assert record["result"]["value"] == {"replicas": 2, "token_source": Source.ENVIRONMENT}
    on_disk = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    assert b"hunter2" not in on_disk


class Credentials(enum.Enum):
    PROD = "glx-hunter2-zebra-91"  # no known shape: found by its name only
    STAGING = ("svc", "stg-hunter2-quokka-17")


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_an_enum_member_whose_value_is_text_is_still_a_secret(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    # Pickle stores a member by its value (Python 3.10, 3.11): kept under ``password``, the
    # password itself reached the disk. Only a member whose value is a number is kept.
    @capture_args(path=tmp_path, **options)
    def login(user: str, password: Credentials, secret: Credentials, source: Source) -> str:
        return user

    login("bob", Credentials.PROD, Credentials.STAGING, Source.ENVIRONMENT)
    flush()
    record = load_capture_dict("login", path=tmp_path)
    assert record["args"][0] == "bob"
    on_disk = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    assert b"hunter2" not in on_disk
    paths = {item["path"] for item in record["metadata"]["redactions"]}
    assert {"password", "secret"} <= paths


@pytest.mark.parametrize(
    "options", [{"record_result": True}, {"async_storage": True, "record_result": True}]
)
def test_a_text_member_masks_its_value_in_the_result_and_nothing_else(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    @capture_args(path=tmp_path, **options)
    def connect(host: str, password: Credentials) -> dict[str, Any]:
        return {"retries": 1, "echo": f"using {password.value}", "member": password.name}

    connect("db", Credentials.PROD)
    flush()
    assert b"hunter2" not in b"".join(
        path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()
    )
    result = load_capture_dict("connect", path=tmp_path)["result"]["value"]
    # 1 is the member's sort order, PROD its name: neither is the secret.
    assert result == {"retries": 1, "echo": "using [FILTERED: name:password]", "member": "PROD"}

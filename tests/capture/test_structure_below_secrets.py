"""Masking a call's secrets in its result and in the instance after it: what sits below a
sensitive name but only describes the secret is not one of them.

Everything below a sensitive name counted as a secret, wherever its text appeared: an ``auth``
object's user name, a cookie jar's domain (``127.0.0.1``), showed as ``[FILTERED: name:auth]``
/ ``[FILTERED: name:cookie]`` in results and in ``self_after`` (``http://[FILTERED:
name:cookie]:8080``), which then differed from any replay. Now an attribute or a key whose
name describes (``username``, ``domain``, ``name``, ``path``...) is not inherited into; what
holds the secret (a cookie's ``value``, an attribute of any other name) still is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import CaptureLoader, capture_args, flush

PW = "Zq8-unlikely-pw-91"
SESSION = "sid-Zq8-unlikely-cookie-92"
TOKEN = "tk-Zq8-unlikely-93"


class BasicAuth:
    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password


class BearerAuth:
    def __init__(self, t: str) -> None:
        self.t = t  # a harmless name for the secret itself


class Cookie:
    def __init__(self, name: str, value: str, domain: str, path: str) -> None:
        self.name = name
        self.value = value
        self.domain = domain
        self.path = path


class Jar:
    def __init__(self, *cookies: Cookie) -> None:
        self.items = list(cookies)


class Session:
    def __init__(self) -> None:
        self.auth = BasicAuth("ops-admin", PW)
        self.bearer_auth = BearerAuth(TOKEN)
        self.cookies = Jar(Cookie("sid", SESSION, "127.0.0.1", "/api"))


class Client:
    def __init__(self) -> None:
        self.username = "ops-admin"
        self.base_url = "http://127.0.0.1:8080"
        self.session = Session()

    def describe(self, path: str) -> str:
        return f"{self.username} at {self.base_url}{path}"

    def leak(self) -> list[str]:
        cookie = self.session.cookies.items[0]
        return [cookie.value, self.session.bearer_auth.t, self.session.auth.password]


def _on_disk(root: Path) -> bytes:
    assert flush(timeout=30)
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


@pytest.mark.parametrize("options", CAPTURE_MODES[3:])  # the modes recording results
def test_what_describes_a_secret_is_kept_and_the_secret_masked(
    capture_dir: Path, options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for method in ("describe", "leak"):
        wrapped = capture_args(retention=None, **options)(Client.__dict__[method])
        monkeypatch.setattr(Client, method, wrapped)
    client = Client()
    assert client.describe("/items") == "ops-admin at http://127.0.0.1:8080/items"
    client.leak()

    on_disk = _on_disk(capture_dir)
    for secret in (PW, SESSION, TOKEN):
        assert secret.encode() not in on_disk
    loader = CaptureLoader(capture_dir)
    [described] = loader.load_all("Client.describe")
    # On base: "[FILTERED: name:auth] at http://[FILTERED: name:cookie]:8080/items".
    assert described["result"]["value"] == "ops-admin at http://127.0.0.1:8080/items"
    # Replayed on the stored instance, the call gives the recorded result (on base it could not).
    original = Client.__dict__["describe"].__wrapped__
    assert original(described["self"], *described["args"]) == described["result"]["value"]
    after = described["self_after"]
    assert after.username == "ops-admin"
    assert after.base_url == "http://127.0.0.1:8080"
    [leaked] = loader.load_all("Client.leak")
    assert leaked["result"]["value"] == [
        "[FILTERED: name:cookie]",
        "[FILTERED: name:bearer]",
        "[FILTERED: name:auth]",
    ]
    assert vars(leaked["self_after"].session) == {
        "auth": "[FILTERED: name:auth]",
        "bearer_auth": "[FILTERED: name:bearer]",
        "cookies": "[FILTERED: name:cookie]",
    }

"""The examples of seed.md, run as written (the pytest, filter and serializer examples live
in the test files of those modules)."""

from __future__ import annotations

from typing import Any

import pytest

from snapy_capture import (
    CaptureNotFoundError,
    CaptureProfiler,
    capture_args,
    flush,
    load_capture,
)


def authenticate_user(username: str, password: str, remember_me: bool) -> dict[str, Any]:
    return {"user": username, "remember": remember_me, "ok": bool(password)}


@capture_args(path="./captures", retention=3, ignore_args=["password"])
def user_authentication(username, password, remember_me=False):  # type: ignore[no-untyped-def]
    return authenticate_user(username, password, remember_me)


class UserService:
    """Stands in for the seed's user_service."""

    @capture_args()
    def create_user(self, username: str, email: str, password: str) -> dict[str, Any]:
        return {"username": username, "email": email, "id": hash(username) % 1000}


user_service = UserService()


def test_decorator_example_runs_as_written(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The seed's first example stores under ./captures and replays without the password."""
    monkeypatch.chdir(tmp_path)
    assert user_authentication("john_doe", "s3cr3t-pw", remember_me=True)["ok"]
    args, kwargs = load_capture("user_authentication")
    assert args[0] == "john_doe"
    assert "s3cr3t-pw" not in repr(args)
    assert kwargs == {"remember_me": True}
    assert (tmp_path / "captures").is_dir()


def test_capture_filtering() -> None:
    @capture_args(ignore_args=["secret"])
    def test_function(public_data, secret):  # type: ignore[no-untyped-def]
        return {"data": public_data}

    # Execute function with sensitive data
    result = test_function("public", "sensitive")

    # Verify capture exists and is filtered
    args, kwargs = load_capture("test_function")
    assert "sensitive" not in str(args) + str(kwargs)
    assert result == {"data": "public"}


def test_end_to_end_capture_replay() -> None:
    # Step 1: Execute function with capture
    original_result = user_service.create_user(
        username="testuser", email="test@example.com", password="secret123"
    )

    # Step 2: Load captured arguments
    args, kwargs = load_capture("create_user")

    # Step 3: Replay and validate
    replayed_result = user_service.create_user(*args, **kwargs)

    # Results should be identical (excluding dynamic fields)
    assert original_result["username"] == replayed_result["username"]
    assert original_result["email"] == replayed_result["email"]


def get_test_data(name: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return (("fallback",), {})


def test_capture_not_found_fallback() -> None:
    try:
        args, kwargs = load_capture("function_name")
    except CaptureNotFoundError:
        # Fallback to manual test data
        args, kwargs = get_test_data("function_name")
    assert args == ("fallback",)


def process_data(data: list[int]) -> int:
    return sum(data)


@capture_args(
    lazy_serialization=True,
    sample_rate=0.1,  # Capture 10% of calls
    async_storage=True,
)
def high_frequency_function(data):  # type: ignore[no-untyped-def]
    return process_data(data)


def test_high_performance_example() -> None:
    """Sampling keeps roughly 10% of calls; every call returns its normal result."""
    results = [high_frequency_function([i, 1]) for i in range(400)]
    assert results == [i + 1 for i in range(400)]
    assert flush(timeout=30)


@capture_args()
def expensive_function(data: list[int]) -> int:
    return len(data)


def test_profiler_example(capsys: pytest.CaptureFixture[str]) -> None:
    large_data = list(range(10_000))
    # Monitor capture performance
    with CaptureProfiler() as profiler:
        result = expensive_function(large_data)

    print(f"Capture overhead: {profiler.capture_time_ms}ms")
    print(f"Serialization size: {profiler.serialized_size_bytes} bytes")
    assert result == 10_000
    assert profiler.capture_time_ms > 0
    assert profiler.serialized_size_bytes > 10_000
    assert "Capture overhead" in capsys.readouterr().out

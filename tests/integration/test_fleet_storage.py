"""A fleet of processes capturing into one object store (moto's S3 server on 127.0.0.1):
nothing lost or overwritten without a lock server, retention converging to exactly N, a
store going down and coming back, a missing bucket, pull/push and replay."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from _s3server import S3Server
from snapy_capture import CaptureStorage, capture_args, flush, load_capture
from snapy_capture.capture import stats
from snapy_capture.cli import main

HOST = textwrap.dedent(
    """
    import os, sys, threading
    from snapy_capture import capture_args, flush
    url, retention, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])

    @capture_args(path=url, retention=None if retention == "none" else int(retention))
    def handle(host, thread, n):
        return n

    def work(thread):
        for n in range(calls):
            handle(os.getpid(), thread, n)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(2)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert flush(120)
    """
)


def _fleet(url: str, retention: str, calls: int, tmp_path: Path, env: dict[str, str]) -> None:
    """4 processes x 2 threads, each in its own working directory (its own "host": no
    local state in common)."""
    procs = []
    for host in range(4):
        home = tmp_path / f"host{host}"
        home.mkdir()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", HOST, url, retention, str(calls)],
                cwd=home,
                env={**os.environ, **env, "SNAP_CAPTURE_DEFAULT_PATH": str(home / "local")},
            )
        )
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]


def test_fleet_loses_and_overwrites_nothing(
    s3_url: str, s3_server: S3Server, tmp_path: Path
) -> None:
    calls = 20
    _fleet(s3_url, "none", calls, tmp_path, s3_server.env())
    store = CaptureStorage(s3_url, retention=None)
    records = [item.record for item in store.read_captures("__main__:handle")]
    seen = {(r["args"][0], r["args"][1], r["args"][2]) for r in records if r}
    assert len(records) == 4 * 2 * calls
    assert len(seen) == 4 * 2 * calls  # every call, none written over another
    assert len({pid for pid, _, _ in seen}) == 4
    # Each writer's own captures come out in its own order (newest first) in every listing.
    for pid in {pid for pid, _, _ in seen}:
        for thread in (0, 1):
            mine = [r["args"][2] for r in records if r and r["args"][:2] == [pid, thread]]
            assert mine == sorted(mine, reverse=True)


def test_fleet_retention_converges_to_exactly_n(
    s3_url: str, s3_server: S3Server, tmp_path: Path
) -> None:
    _fleet(s3_url, "5", 15, tmp_path, s3_server.env())
    store = CaptureStorage(s3_url)
    assert len(list(store.captures("__main__:handle"))) == 5


def test_store_killed_mid_run_drops_counts_warns_once_and_resumes(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("moto.server")
    server = S3Server()
    server.start()
    try:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        bucket = server.bucket()
        url = f"s3://{bucket}/captures"

        @capture_args(path=url, retention=None)
        def work(n: int) -> int:
            return n * 2

        caplog.set_level(logging.WARNING, logger="snapy_capture")
        before = stats()
        assert [work(n) for n in range(5)] == [0, 2, 4, 6, 8]
        assert flush(60)
        assert stats()["captured"] - before["captured"] == 5

        server.stop()  # the store goes down
        slowest = 0.0
        for n in range(40):
            start = time.perf_counter()
            assert work(n) == n * 2  # the host is unaffected
            slowest = max(slowest, time.perf_counter() - start)
        assert flush(60)
        after = stats()
        assert after["dropped"] - before["dropped"] == 40
        assert after["errors"] - before["errors"] == 40
        assert slowest < 0.05  # never waits on the network
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert f"cannot write to {url}" in warnings[0].getMessage()
        assert "testing-secret" not in caplog.text

        server.start()  # back (empty: moto keeps nothing), the bucket made again
        server.client().create_bucket(Bucket=bucket)
        deadline = time.monotonic() + 40  # the back-off is 1 s, doubling, 30 s at most
        stored = 0
        while time.monotonic() < deadline and not stored:
            work(100)
            assert flush(60)
            stored = len(
                list(CaptureStorage(url).captures(f"{work.__module__}:{work.__qualname__}"))
            )
            time.sleep(0.5)
        assert stored >= 1  # writing resumed
    finally:
        server.stop()


def test_a_missing_bucket_is_one_clear_line(s3_url: str, caplog: pytest.LogCaptureFixture) -> None:
    url = "s3://snapy-no-such-bucket/captures"
    out, err = io.StringIO(), io.StringIO()
    assert main(["list", "--path", url], stdout=out, stderr=err) == 1
    assert err.getvalue() == (
        "snapy-capture: error: s3://snapy-no-such-bucket/captures: the bucket "
        "'snapy-no-such-bucket' does not exist (create it, or fix the path)\n"
    )

    @capture_args(path=url)
    def work(n: int) -> int:
        return n

    caplog.set_level(logging.WARNING, logger="snapy_capture")
    for n in range(3):
        assert work(n) == n
    assert flush(60)
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "the bucket 'snapy-no-such-bucket' does not exist" in warning


def test_pull_and_push_keep_signatures_and_order_and_replay(
    s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNAP_CAPTURE_SIGNING_KEY", "fleet-key")

    @capture_args(path=s3_url, retention=None)
    def price(item: str, qty: int) -> int:
        return qty

    for qty in range(1, 4):
        price("book", qty)
    assert flush(60)
    name = f"{price.__module__}:{price.__qualname__}"

    local = tmp_path / "pulled"
    out, err = io.StringIO(), io.StringIO()
    assert main(["pull", s3_url, str(local)], stdout=out, stderr=err) == 0, err.getvalue()
    assert out.getvalue() == f"Pulled 3 capture(s) of 1 function(s) from {s3_url} to {local}.\n"
    # Verified under the key at their new place, in the same order: the newest first.
    assert load_capture(name, local) == (("book", 3), {})
    store = CaptureStorage(local)
    assert [item.record["args"][1] for item in store.read_captures(name) if item.record] == [
        3,
        2,
        1,
    ]
    # Pulled again: nothing is copied twice.
    out = io.StringIO()
    assert main(["pull", s3_url, str(local)], stdout=out, stderr=err) == 0
    assert "Pulled 0 capture(s)" in out.getvalue()
    assert "3 already there" in out.getvalue()

    # Pushed to another prefix: the remote copy verifies there too, order kept.
    other = s3_url + "-copy"
    out = io.StringIO()
    assert main(["push", str(local), other], stdout=out, stderr=err) == 0, err.getvalue()
    assert "Pushed 3 capture(s)" in out.getvalue()
    assert load_capture(name, other) == (("book", 3), {})
    out = io.StringIO()
    assert main(["list", "--path", other], stdout=out, stderr=err) == 0
    assert name in out.getvalue()


def test_a_target_file_with_an_s3_path_and_storage_options(
    s3_url: str, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``path: s3://...`` in YAML (not made relative to the file) and the endpoint and keys
    given in ``storage_options`` rather than the environment; none of them reaches a
    capture, the process's output or a log line."""
    (tmp_path / "tgt_fleet.py").write_text("def work(x):\n    return x + 1\n", encoding="utf-8")
    config = tmp_path / "capture.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            version: 1
            defaults:
              path: {s3_url}
              storage_options:
                endpoint_url: {s3_server.endpoint}
                key: testing
                secret: yaml-secret-never-in-a-capture
            targets: ['tgt_fleet:work']
            """
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SNAP_CAPTURE_"))}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import snapy_capture.autoload, logging; logging.basicConfig(level=logging.DEBUG); "
            "import tgt_fleet; print(tgt_fleet.work(41))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**env, "SNAP_CAPTURE_CONFIG": str(config)},
        timeout=120,
        check=False,
    )
    assert (result.stdout, result.returncode) == ("42\n", 0), result.stderr
    assert "yaml-secret" not in result.stderr
    assert not (tmp_path / "s3:").exists()  # not a directory named after the URL
    # SNAP_CAPTURE_DEFAULT_PATH names the store for the loader (the AWS environment here).
    monkeypatch.setenv("SNAP_CAPTURE_DEFAULT_PATH", s3_url)
    from snapy_capture import config as config_module

    config_module.reload_environment()
    store = CaptureStorage()
    assert str(store.path) == s3_url
    [item] = list(store.read_captures("tgt_fleet:work"))
    assert item.record is not None
    assert item.record["args"] == [41]
    raw = item.ref.path.read_bytes()
    assert b"yaml-secret" not in raw
    assert b"testing" not in raw
    assert load_capture("tgt_fleet:work") == ((41,), {})


def test_gen_tests_from_an_object_store_names_its_url(s3_url: str, tmp_path: Path) -> None:
    """The generated module reads the captures from the store's URL (not a local path made
    from it)."""
    (tmp_path / "tgt_gen.py").write_text("def total(qty):\n    return qty\n", encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    import tgt_gen  # type: ignore[import-not-found]

    capture_args(path=s3_url)(tgt_gen.total)(3)
    assert flush(60)
    out, err = io.StringIO(), io.StringIO()
    code = main(["gen-tests", "tgt_gen:total", "--path", s3_url], stdout=out, stderr=err)
    assert (code, err.getvalue()) == (0, "")
    assert f'\nCAPTURES = "{s3_url}"\n' in out.getvalue()


def test_the_pytest_plugin_replays_from_an_object_store(
    s3_url: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--snapy-capture-path s3://...``: the replay suite reads the fleet's captures."""
    from _pytester import pytest_ini

    for name in list(os.environ):
        if name.startswith("PYTEST_XDIST") or name == "PYTEST_ADDOPTS":
            monkeypatch.delenv(name)
    pytester.makefile(".ini", pytest=pytest_ini())
    pytester.makepyfile(
        tgt_fleetshop="def total(items):\n    return sum(items)\n",
        test_replay=textwrap.dedent(
            """
            import pytest
            from snapy_capture.pytest_plugin import replay_cases
            from tgt_fleetshop import total

            @pytest.mark.parametrize("args, kwargs", replay_cases("tgt_fleetshop:total"))
            def test_total(args, kwargs):
                assert total(*args, **kwargs) == sum(args[0])
            """
        ),
    )
    store = CaptureStorage(s3_url)
    for items in ([1, 2], [3]):
        store.save(
            {
                "module": "tgt_fleetshop",
                "qualname": "total",
                "function_name": "total",
                "timestamp": "2026-01-01T00:00:00Z",
                "args": [items],
                "kwargs": {},
                "metadata": {},
            }
        )
    result = pytester.runpytest_subprocess("--snapy-capture-path", s3_url, timeout=120)
    result.assert_outcomes(passed=2)

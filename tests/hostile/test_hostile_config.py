"""The limits are settings: defaults, ``REACTOR_*`` environment variables, and
the admission counter that enforces the server-wide ones."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from reactor.server import ServerConfig, create_server
from reactor.server._overload import Admission, Overloaded, ensure_fd_limit


def test_defaults() -> None:
    config = ServerConfig()
    assert (config.max_connections, config.max_concurrent_functions) == (5_000, 1_000)
    assert (config.max_frame_bytes, config.max_body_bytes) == (16 << 20, 16 << 20)
    assert (config.session.max_subscriptions, config.session.max_in_flight) == (10_000, 1_000)
    assert (config.connect_timeout_s, config.header_timeout_s, config.body_timeout_s) == (
        10,
        10,
        30,
    )
    assert (config.keep_alive_timeout_s, config.retry_after_s) == (5, 1)


def test_from_env_reads_numbers_and_session_limits() -> None:
    config = ServerConfig.from_env(
        {
            "REACTOR_MAX_CONNECTIONS": "20",
            "REACTOR_CONNECT_TIMEOUT_S": "2.5",
            "REACTOR_SESSION_MAX_SUBSCRIPTIONS": "7",
            "REACTOR_DEV_ERRORS": "0",  # not a number: settings in code only
            "REACTOR_MAX_BODY_BYTES": " ",
        },
        dev_errors=False,
    )
    assert config.max_connections == 20 and config.connect_timeout_s == 2.5
    assert config.session.max_subscriptions == 7 and config.session.max_in_flight == 1_000
    assert config.max_body_bytes == 16 << 20 and config.dev_errors is False


def test_from_env_names_a_bad_value() -> None:
    with pytest.raises(
        ValueError, match="REACTOR_MAX_CONCURRENT_FUNCTIONS='many' is not a valid int"
    ):
        ServerConfig.from_env({"REACTOR_MAX_CONCURRENT_FUNCTIONS": "many"})


def test_create_server_reads_the_environment(
    apps_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REACTOR_MAX_CONNECTIONS", "3")
    server = create_server(apps_dir / "live", db=str(tmp_path / "data.db"), dev_errors=False)
    assert server.config.max_connections == 3 and server.admission.max_connections == 3
    assert server.config.dev_errors is False


def test_admission_counts_and_refuses() -> None:
    admission = Admission(max_connections=1, max_concurrent_functions=1, retry_after_s=3)
    admission.admit_connection()
    with pytest.raises(Overloaded, match=r"^TooManyConnections: .*\(max_connections\)"):
        admission.admit_connection()
    admission.release_connection()
    with admission.function():
        with pytest.raises(Overloaded) as info, admission.function():
            pass
        assert info.value.code == "TooManyConcurrentFunctions" and info.value.retry_after_s == 3
        # Every function slot taken: new connections wait too.
        with pytest.raises(Overloaded, match=r"^TooManyConcurrentFunctions"):
            admission.admit_connection()
    with admission.function():
        pass
    assert admission.stats() == {
        "connections": 0,
        "maxConnections": 1,
        "functionsInFlight": 0,
        "maxConcurrentFunctions": 1,
        "refusedConnections": 2,
        "refusedFunctions": 1,
    }
    for exc in (admission._too_many_connections(), admission._too_many_functions()):
        assert len(str(exc).encode()) <= 123  # fits a close frame's reason


def test_the_open_files_limit_is_raised_for_max_connections() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = soft + 100  # needs soft + 100 + 256 spare files
    limit = ensure_fd_limit(wanted)
    now, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard >= wanted + 256:
        assert now == limit == wanted + 256
    else:
        assert now == limit == hard  # as far as it goes (and a warning says so)

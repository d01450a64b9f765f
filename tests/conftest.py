"""What the whole suite shares: one no-socket guard, one sync/async parametrization, and one
check that no temporary file remains after the suite (see the end of this file).

Tests never reach the network. A test that needs loopback sockets (a real emulator server)
is marked ``network``; re-recording cassettes (``--record-mode`` other than ``none``) may
talk to the live API or a loopback emulator. AF_UNIX stays allowed for asyncio's self-pipe.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest) -> Iterator[None]:
    recording = request.config.getoption("--record-mode", default="none") not in (None, "none")
    if recording or request.node.get_closest_marker("network") is not None:
        yield
        return
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """``"sync"`` or ``"async"``: one test body for both twins of a method."""
    return str(request.param)


# ----------------------------------------------------------- no temporary files remain
#
# The suite runs with a private system temp dir (TMPDIR, inherited by xdist workers and
# subprocesses): whatever is in it when the session ends was left there by the suite. Also a
# leak: one of our names (``together-*``, ``.together-*``) new in the real temp dir (code
# that bypasses TMPDIR), or an atomic writer's ``.together-*.part`` left in any test's
# tmp_path. pytest's own basetemp stays where it always is, and the controller alone checks,
# once every worker is done.

_OURS = ("together-", ".together-")
_TEMP = pytest.StashKey[dict[str, Any]]()
_NESTED = "TOGETHER_TESTS_PRIVATE_TMPDIR"


def _our_names(folder: Path) -> set[Path]:
    return {entry for entry in folder.iterdir() if entry.name.startswith(_OURS)}


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    # An xdist worker, or a pytest a test runs in a subprocess: the outer session watches.
    if hasattr(config, "workerinput") or os.environ.get(_NESTED):
        return
    factory = getattr(config, "_tmp_path_factory", None)  # absent with -p no:tmpdir
    basetemp = factory.getbasetemp() if factory is not None else None
    system = Path(tempfile.gettempdir())
    private = Path(tempfile.mkdtemp(prefix="suite-tmp-"))
    config.stash[_TEMP] = {"system": system, "private": private, "basetemp": basetemp,
                           "before": _our_names(system), "TMPDIR": os.environ.get("TMPDIR")}  # fmt: skip
    # A run stored in the default batch store must not land in (or be found in) ~/.cache.
    runs = Path(tempfile.mkdtemp(prefix="suite-batch-runs-"))
    config.stash[_TEMP].update(runs=runs, TOGETHER_BATCH_DIR=os.environ.get("TOGETHER_BATCH_DIR"))
    os.environ["TOGETHER_BATCH_DIR"] = str(runs)
    os.environ["TMPDIR"] = os.environ[_NESTED] = str(private)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(_TEMP, None)
    if state is None:
        return
    os.environ.pop(_NESTED, None)
    if state["TMPDIR"] is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = state["TMPDIR"]
    tempfile.tempdir = None
    shutil.rmtree(state["runs"], ignore_errors=True)
    if state["TOGETHER_BATCH_DIR"] is None:
        os.environ.pop("TOGETHER_BATCH_DIR", None)
    else:
        os.environ["TOGETHER_BATCH_DIR"] = state["TOGETHER_BATCH_DIR"]
    left = sorted(str(entry) for entry in state["private"].iterdir())
    left += sorted(str(entry) for entry in _our_names(state["system"]) - state["before"])
    if state["basetemp"] is not None:
        left += sorted(str(entry) for entry in state["basetemp"].rglob(".together-*"))
    shutil.rmtree(state["private"], ignore_errors=True)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write("\n")  # after the progress dots
            reporter.write_sep("=", "temporary files remain after the suite", red=True)
            for name in left:
                reporter.write_line(f"  {name}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

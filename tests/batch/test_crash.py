"""Crash and resume: a client in a subprocess, over loopback, killed at each point of a run;
running the same code again creates no second job and gives the same answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from together_integrations.batch import DirectoryStore, JobState
from together_integrations.testing import TogetherEmulator, VirtualClock

from .crash_child import CRASH_EXIT

CHILD = Path(__file__).with_name("crash_child.py")
INPUTS, MAX_LINES = 30, 20  # two jobs
EXPECTED = [f"You said: row {i}" for i in range(INPUTS)]

pytestmark = pytest.mark.network


def run_child(config: dict[str, Any], crash: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHILD), json.dumps({**config, "crash": crash})],
        capture_output=True,
        text=True,
        timeout=120,
    )


def posts(emu: TogetherEmulator, path: str) -> int:
    return sum(1 for r in emu.requests if r.method == "POST" and r.path == path)


# What the manifest must say right after each crash: the states of the two jobs.
AFTER_CRASH = {
    "uploaded": [JobState.PLANNED, JobState.PLANNED],
    "before_create": [JobState.CREATE_SENT, JobState.PLANNED],
    "after_create": [JobState.CREATE_SENT, JobState.PLANNED],
    "polling": [JobState.CREATED, JobState.CREATED],
    "downloading": [JobState.DONE, JobState.DONE],
}


@pytest.mark.parametrize("crash", sorted(AFTER_CRASH))
def test_a_killed_run_resumes_without_a_duplicate_job(
    tmp_path: Path, crash: str, mode: str
) -> None:
    emu = TogetherEmulator(clock=VirtualClock(auto_advance=600))
    emu.batches.script(duration=1800, times=None)
    with emu.serve() as server:
        config = {
            "base_url": server.base_url,
            "store": str(tmp_path / "runs"),
            "out": str(tmp_path / "out.json"),
            "inputs": INPUTS,
            "max_lines": MAX_LINES,
            "mode": mode,
        }
        first = run_child(config, crash)
        assert first.returncode == CRASH_EXIT, first.stderr
        assert not (tmp_path / "out.json").exists()
        (key,) = DirectoryStore(tmp_path / "runs").run_keys()
        manifest = DirectoryStore(tmp_path / "runs").load(key)
        assert manifest is not None
        assert [job.state for job in manifest.jobs] == AFTER_CRASH[crash]
        assert manifest.jobs[0].batch_id is None or crash in ("polling", "downloading")
        creates_before = posts(emu, "/v1/batches")
        assert creates_before == {"uploaded": 0, "before_create": 0, "after_create": 1}.get(
            crash, 2
        )

        second = run_child(config, "none")
        assert second.returncode == 0, second.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["answers"] == EXPECTED
    # zero duplicate jobs: one create per job, and each input file uploaded once
    assert posts(emu, "/v1/batches") == 2 == len(emu.batches)
    assert sorted(out["batch_ids"]) == sorted(job.id for job in emu.batches)
    inputs = [f for f in emu.files if f.purpose == "batch-api" and f.data is not None]
    assert len(inputs) == 2
    if crash == "after_create":  # the job that may exist was looked up, not created again
        assert sum(1 for r in emu.requests if r.method == "GET" and r.path == "/v1/batches") >= 1

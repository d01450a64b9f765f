"""The pytest plugin as a user's project sees it: a tiny test suite run by pytester in a
subprocess, recording against ``together_emulator_server`` with ``together_vcr_config``."""

from __future__ import annotations

import pytest
import yaml

pytest_plugins = ["pytester"]

CONFTEST = """
import pytest

@pytest.fixture
def vcr_config(together_vcr_config):
    return together_vcr_config
"""

TEST_FILE = """
import os

import httpx
import pytest

@pytest.mark.vcr
def test_answer(request):
    answer = os.environ["ANSWER"]
    if request.config.getoption("--record-mode") != "none":
        emu = request.getfixturevalue("together_emulator_server").emulator
        emu.reply(answer)
        base = request.getfixturevalue("together_emulator_server").base_url
    else:
        base = "https://api.together.xyz/v1"
    r = httpx.post(base + "/chat/completions", json={
        "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "messages": [{"role": "user", "content": "Which answer?"}]})
    assert r.json()["choices"][0]["message"]["content"] == answer
"""


def contents(pytester: pytest.Pytester) -> list[str]:
    path = pytester.path / "cassettes" / "test_user" / "test_answer.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        i["response"]["body"]["json"]["choices"][0]["message"]["content"]
        for i in doc["interactions"]
    ]


@pytest.mark.network
def test_record_mode_rewrite_re_records_the_users_cassette(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_user=TEST_FILE)
    # Heavy plugins left out of the inner runs: they only slow them down.
    quiet = ("randomly", "cacheprovider", "langsmith_plugin", "hypothesispytest", "nbmake")
    run = [arg for name in quiet for arg in ("-p", f"no:{name}")] + ["-q"]

    monkeypatch.setenv("ANSWER", "first")
    pytester.runpytest_subprocess(*run, "--record-mode=once").assert_outcomes(passed=1)
    assert contents(pytester) == ["first"]

    # rewrite: the stale <name>.yaml is deleted first, so the new answer is recorded alone
    # (pytest-recording alone would delete <name>.together-yaml and append to the old file).
    monkeypatch.setenv("ANSWER", "second")
    pytester.runpytest_subprocess(*run, "--record-mode=rewrite").assert_outcomes(passed=1)
    assert contents(pytester) == ["second"]

    # Re-recording again (a new server, a new port) gives the same bytes: the loopback host
    # is recorded as the emulator's placeholder host.
    path = pytester.path / "cassettes" / "test_user" / "test_answer.yaml"
    before = path.read_bytes()
    pytester.runpytest_subprocess(*run, "--record-mode=rewrite").assert_outcomes(passed=1)
    assert path.read_bytes() == before and b"127.0.0.1" not in before

    # And it replays with record mode none, against a host that is not the emulator's.
    pytester.runpytest_subprocess(*run).assert_outcomes(passed=1)

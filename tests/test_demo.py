"""The README's main job: ``together-integrations demo`` runs offline end to end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from together_integrations.__main__ import main


@pytest.mark.network  # the demo serves the emulator on loopback
def test_demo_runs_offline_and_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert "offline" in first and "emulator" in first
    assert "tool get_weather" in out and "tool celsius_to_fahrenheit" in out
    assert "64.4 °F" in out
    assert "answer: The rerank endpoint orders documents" in out
    assert "tokens:" in out and "error" not in out
    # The media step: an image and a spoken answer, saved in a temporary folder that is gone
    # once the demo ends.
    image = re.search(
        r"image: 512x512 JPG, [\d,]+ bytes, saved to (\S+image-[0-9a-f]{16}\.jpg)", out
    )
    speech = re.search(r"speech: [\d.]+ s of WAV, [\d,]+ bytes, saved to (\S+speech-\S+\.wav)", out)
    assert image is not None and speech is not None, out
    folder = Path(image.group(1)).parent
    assert Path(speech.group(1)).parent == folder and folder.name.startswith("together-demo-")
    assert not folder.exists() and f"removed with {folder}" in out


def test_live_without_a_key_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    assert main(["demo", "--live"]) == 2
    assert capsys.readouterr().out.strip() == "error: --live needs TOGETHER_API_KEY to be set."

"""Videos (under the v2 root) and dedicated endpoints replayed from cassettes through the
transport; a started endpoint's name then answers both adapters.

Recorded against the emulator on virtual time, like the batch and fine-tune lifecycles:
``VirtualClock(auto_advance=...)`` moves the job forward on every poll over loopback, and the
poller sleeps on a virtual clock too, so neither recording nor replay waits.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage

from together_integrations import JobFailedError, NonServerlessModelError
from together_integrations.langchain import ChatTogether
from together_integrations.llama_index import TogetherLLM
from together_integrations.testing import VirtualClock

from ._replay import CHAT_MODEL, emulator, settings, transport

VIDEO_MODEL = "google/veo-3.0"
HARDWARE = "2x_nvidia_h100_80gb_sxm"
MP4_BOX = b"ftyp"


@pytest.mark.vcr
def test_video_lifecycle(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.clock = VirtualClock(auto_advance=20)
        emu.videos.script(queued=10, duration=90)
    seen: list[str] = []
    with transport(together_target) as t:
        created = t.videos.create(
            {"model": VIDEO_MODEL, "prompt": "a cat surfing", "seconds": "8", "width": 1280,
             "height": 720}
        )  # fmt: skip
        done = t.videos.wait_until_done(
            created.id,
            poll_interval=10,
            clock=VirtualClock(start=0),
            on_progress=lambda job: seen.append(str(job.status)),
        )
    assert created.status in ("queued", "in_progress") and created.outputs is None
    assert done.id == created.id and done.status == "completed"
    assert "in_progress" in seen and 2 <= len(seen) <= 12  # a bounded number of polls
    assert done.size == "1280x720" and done.seconds == "8"
    assert done.completed_at is not None and done.created_at is not None
    assert done.completed_at > done.created_at
    assert done.outputs is not None and done.outputs.video_url
    # The URL the job hands out serves the video (its body recorded as a hash and a head).
    fetched = httpx.get(done.outputs.video_url)
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "video/mp4"
    assert fetched.content[4:8] == MP4_BOX


@pytest.mark.vcr
def test_video_failed(together_target: dict[str, Any]) -> None:
    emu = emulator(together_target)
    if emu is not None:
        emu.clock = VirtualClock(auto_advance=30)
        emu.videos.script(
            queued=10,
            duration=60,
            outcome="failed",
            error_code="content_policy_violation",
            error_message="The prompt was flagged by the safety checker",
        )
    with transport(together_target) as t:
        created = t.videos.create({"model": VIDEO_MODEL, "prompt": "something forbidden"})
        with pytest.raises(JobFailedError) as caught:
            t.videos.wait_until_done(created.id, poll_interval=10, clock=VirtualClock(start=0))
        job = t.videos.retrieve(created.id)
    assert "flagged by the safety checker" in str(caught.value)
    assert job.status == "failed" and job.outputs is None
    assert job.error is not None and job.error.code == "content_policy_violation"


@pytest.mark.vcr
def test_endpoint_lifecycle(together_target: dict[str, Any]) -> None:
    """Hardware, create, poll to STARTED, chat by the endpoint's name (both adapters), stop,
    poll to STOPPED (the name is refused), start again, delete."""
    emu = emulator(together_target)
    if emu is not None:
        emu.clock = VirtualClock(auto_advance=30)
        emu.endpoints.script(pending=30, starting=120, stopping=60)
    clock = VirtualClock(start=0)
    with transport(together_target) as t:
        offer = t.endpoints.hardware(model=CHAT_MODEL)
        created = t.endpoints.create(
            {"model": CHAT_MODEL, "hardware": HARDWARE, "display_name": "replay endpoint",
             "autoscaling": {"min_replicas": 1, "max_replicas": 2}}
        )  # fmt: skip
        started = t.endpoints.wait_until_done(created.id, poll_interval=30, clock=clock)
        name = str(started.name)
        client = settings(together_target)
        message = ChatTogether(model=name, **client).invoke("Hi")
        reply = TogetherLLM(model=name, **client).chat([ChatMessage(role="user", content="Hi")])
        stopping = t.endpoints.update(created.id, {"state": "STOPPED"})
        stopped = t.endpoints.wait_until_done(created.id, poll_interval=30, clock=clock)
        with pytest.raises(NonServerlessModelError) as refused:
            ChatTogether(model=name, **client).invoke("Hi")
        listed = t.endpoints.list(type="dedicated")
        restarted = t.endpoints.update(created.id, {"state": "STARTED"})
        t.endpoints.delete(created.id)
    ids = [h.id for h in offer]
    assert HARDWARE in ids and all(h.pricing and h.pricing.cents_per_minute for h in offer)
    assert all(h.availability and h.availability.status == "available" for h in offer)
    assert created.state == "PENDING" and created.display_name == "replay endpoint"
    assert created.model == CHAT_MODEL and created.hardware == HARDWARE
    assert started.state == "STARTED" and name == created.name
    assert message.content == "You said: Hi" and reply.message.content == "You said: Hi"
    assert stopping.state == "STOPPING" and stopped.state == "STOPPED"
    assert [(e.id, e.state) for e in listed] == [(created.id, "STOPPED")]
    assert name in str(refused.value)
    assert restarted.state == "STARTING"

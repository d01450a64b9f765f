"""Videos under the v2 root: queued → in_progress → completed with a URL the emulator serves,
or failed with ``error{code, message}``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from together_integrations.testing import TogetherEmulator, VirtualClock

VEO = "google/veo-3.0"
V2 = "https://api.together.xyz/v2/videos"  # a v1 base URL's client calls the v2 root


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=1_800_000_000)


@pytest.fixture
def emu(clock: VirtualClock) -> TogetherEmulator:
    return TogetherEmulator(clock=clock)


def create(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post(V2, json={"model": VEO, "prompt": "a cat surfing", **body})


def test_the_lifecycle_and_the_served_url(emu: TogetherEmulator, clock: VirtualClock) -> None:
    emu.videos.script(queued=5, duration=60)
    with emu.http_client() as client:
        r = create(client, seconds="8", width=1920, height=1080)
        job = r.json()
        assert r.status_code == 200 and job["object"] == "video" and job["status"] == "queued"
        assert job["created_at"] == 1_800_000_000 and job["completed_at"] is None
        assert (job["size"], job["seconds"]) == ("1920x1080", "8")
        assert job["outputs"] is None and job["error"] is None
        statuses = []
        for step in (4, 2, 58, 1):
            clock.advance(step)
            statuses.append(client.get(f"{V2}/{job['id']}").json()["status"])
        done = client.get(f"{V2}/{job['id']}").json()
        video = client.get(done["outputs"]["video_url"])
    assert statuses == ["queued", "in_progress", "in_progress", "completed"]
    assert done["completed_at"] == 1_800_000_065 and isinstance(done["outputs"]["cost"], float)
    assert done["outputs"]["video_url"].startswith("https://api.together.xyz/storage/videos/")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"


def test_webm_output(emu: TogetherEmulator, clock: VirtualClock) -> None:
    with emu.http_client() as client:
        job = create(client, output_format="WEBM").json()
        clock.advance(1000)
        url = client.get(f"{V2}/{job['id']}").json()["outputs"]["video_url"]
        video = client.get(url)
    assert url.endswith(".webm") and video.content.startswith(b"\x1a\x45\xdf\xa3")


def test_a_scripted_failure(emu: TogetherEmulator, clock: VirtualClock) -> None:
    emu.videos.script(outcome="failed", error_code="content_policy_violation", error_message="no")
    with emu.http_client() as client:
        job = create(client).json()
        clock.advance(1000)
        failed = client.get(f"{V2}/{job['id']}").json()
        media = client.get(f"https://api.together.xyz/storage/videos/{job['id']}.mp4")
    assert failed["status"] == "failed" and failed["outputs"] is None
    assert failed["error"] == {"code": "content_policy_violation", "message": "no"}
    assert media.status_code == 404


def test_a_scripted_cancellation_ends_the_wait(emu: TogetherEmulator, clock: VirtualClock) -> None:
    from together_integrations import JobFailedError

    emu.videos.script(queued=5, duration=30, outcome="cancelled")
    transport = emu.transport(max_retries=0)
    job = transport.videos.create({"model": VEO, "prompt": "a cat surfing"})
    with pytest.raises(JobFailedError):
        transport.videos.wait_until_done(job.id, poll_interval=10, clock=clock)
    with emu.http_client() as client:
        cancelled = client.get(f"{V2}/{job.id}").json()
    assert cancelled["status"] == "cancelled" and cancelled["outputs"] is None
    assert cancelled["completed_at"] == 1_800_000_000 + 35


def test_the_media_url_is_404_until_the_video_exists(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        job = create(client).json()
        early = client.get(f"https://api.together.xyz/storage/videos/{job['id']}.mp4")
    assert early.status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"model": "acme/none"}, 404),
        ({"model": "openai/gpt-oss-20b"}, 400),
        ({"prompt": ""}, 400),
        ({"seconds": 8}, 400),
    ],
)
def test_invalid_requests(emu: TogetherEmulator, body: dict[str, Any], status: int) -> None:
    with emu.http_client() as client:
        assert create(client, **body).status_code == status


def test_videos_are_not_on_the_v1_root(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        assert client.post("/videos", json={"model": VEO, "prompt": "x"}).status_code == 404
        assert client.get(f"{V2}/video_missing").status_code == 404


@pytest.mark.network
def test_over_loopback_from_a_v1_base_url() -> None:
    emu = TogetherEmulator(clock=VirtualClock(auto_advance=10))
    with emu.serve() as server, httpx.Client(base_url=server.base_url) as client:
        v2 = server.base_url.removesuffix("/v1") + "/v2/videos"
        job = client.post(v2, json={"model": VEO, "prompt": "waves"}).json()
        while job["status"] not in ("completed", "failed"):
            job = client.get(f"{v2}/{job['id']}").json()
        video = client.get(job["outputs"]["video_url"])
    assert job["outputs"]["video_url"].startswith(f"http://127.0.0.1:{server.port}/storage/videos/")
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"

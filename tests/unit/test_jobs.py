"""The job poller and the job families (batches, fine-tunes, videos) on httpx.MockTransport,
with a fake clock: a day-long job is waited for in milliseconds. Sync and async (``api``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from together_integrations import (
    APIError,
    APITimeoutError,
    JobFailedError,
    JobTimeoutError,
    TogetherConfigError,
)
from together_integrations._jobs import Poller, PollPolicy
from together_integrations.schemas import BatchJob

from .fixtures import wire
from .fixtures.mock import Api, Script, json_response


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def batch(status: str, progress: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {
        "id": "b-1",
        "status": status,
        "progress": progress,
        "input_file_id": "file-in",
        "created_at": "2026-12-01T00:00:00Z",
        **extra,
    }


def wait(api: Api, family: Any, *args: Any, **kwargs: Any) -> Any:
    if api.is_async:
        return asyncio.run(family.await_until_done(*args, **kwargs))
    return family.wait_until_done(*args, **kwargs)


def test_a_day_long_batch_is_waited_for_with_growing_pauses(api: Api) -> None:
    answers = [json_response(200, batch("VALIDATING"))]
    answers += [json_response(200, batch("in_progress", p)) for p in range(0, 100, 2)]
    answers.append(json_response(200, batch("COMPLETED", 100, output_file_id="file-out")))
    script = Script(*answers)
    clock, seen = FakeClock(), []
    job = wait(
        api,
        script.transport().batches,
        "b-1",
        clock=clock,
        poll_interval=60,
        max_interval=1800,
        on_progress=lambda j: seen.append(j.progress_fraction),
    )
    assert job.output_file_id == "file-out" and script.calls == len(answers)
    assert clock.t > 20 * 3600 and clock.sleeps[1] > clock.sleeps[0]
    assert max(clock.sleeps) <= 1800 * 1.1
    assert seen[-1] == 1.0 and seen[2] == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("status", "reason"), [("FAILED", "input file invalid"), ("EXPIRED", None), ("cancelled", None)]
)
def test_a_failed_batch_raises_at_once_with_the_reason(
    api: Api, status: str, reason: str | None
) -> None:
    script = Script(json_response(200, batch(status, 40, error=reason)))
    with pytest.raises(JobFailedError) as info:
        wait(api, script.transport().batches, "b-1", clock=FakeClock())
    assert info.value.job_id == "b-1" and script.calls == 1
    assert info.value.status is not None and info.value.status.upper().startswith(
        status[:4].upper()
    )
    if reason:
        assert info.value.reason == reason and reason in str(info.value)


def test_a_timed_out_wait_carries_the_last_state_to_resume(api: Api) -> None:
    script = Script(json_response(200, batch("IN_PROGRESS", 30)))
    clock = FakeClock()
    with pytest.raises(JobTimeoutError) as info:
        wait(api, script.transport().batches, "b-1", clock=clock, timeout=600, poll_interval=50)
    error = info.value
    assert isinstance(error.job, BatchJob) and error.job.progress == 30
    assert error.job_id == "b-1" and error.waited == pytest.approx(600)
    assert clock.t == pytest.approx(600)  # the last pause is cut to the deadline


def test_a_429_while_polling_waits_as_asked(api: Api, sleeps: list[float]) -> None:
    limited = json_response(429, wire.ERROR_429, **{"retry-after": "7"})
    script = Script(limited, limited, limited, json_response(200, batch("COMPLETED", 100)))
    clock = FakeClock()
    job = wait(api, script.transport(max_retries=0).batches, "b-1", clock=clock)
    assert job.is_terminal and clock.sleeps == [7.0, 7.0, 7.0]


def test_poll_policy_is_validated() -> None:
    with pytest.raises(TogetherConfigError):
        PollPolicy(interval=0)
    with pytest.raises(TogetherConfigError):
        PollPolicy(timeout=-1)


def test_the_poller_jitters_and_caps_its_pauses() -> None:
    clock = FakeClock()
    running = BatchJob.model_validate(batch("IN_PROGRESS"))
    low = Poller(PollPolicy(interval=10, max_interval=40, jitter=0.1), clock, rand=lambda: 0.0)
    high = Poller(PollPolicy(interval=10, max_interval=40, jitter=0.1), clock, rand=lambda: 1.0)
    lows = [low.seen(running) for _ in range(6)]
    highs = [high.seen(running) for _ in range(6)]
    assert lows[0] == pytest.approx(9.0) and highs[0] == pytest.approx(11.0)
    assert lows[-1] == pytest.approx(36.0) and highs[-1] == pytest.approx(44.0)


# ------------------------------------------------------------------- creates (paid)


def test_batch_create_reads_job_and_warning(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    script = Script(json_response(201, {"job": batch("VALIDATING"), "warning": "slow model"}))
    job = api.call(script.transport(), "batches.create", "file-in", model_id="m")
    assert job.id == "b-1" and "slow model" in caplog.text
    body = json.loads(script.requests[0].content)
    assert body == {
        "input_file_id": "file-in",
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        "model_id": "m",
    }


def test_a_batch_create_that_timed_out_is_not_sent_again(api: Api, sleeps: list[float]) -> None:
    script = Script(httpx.ReadTimeout("no answer"), json_response(201, {"job": batch("X")}))
    with pytest.raises(APITimeoutError) as info:
        api.call(script.transport(max_retries=5), "batches.create", "file-in")
    assert script.calls == 1 and info.value.request_sent


def test_batch_list_is_a_bare_array_and_cancel_posts(api: Api) -> None:
    script = Script(
        json_response(200, [batch("COMPLETED", 100), {**batch("IN_PROGRESS"), "id": "b-2"}]),
        json_response(200, batch("CANCELLED")),
    )
    transport = script.transport()
    assert [j.id for j in api.call(transport, "batches.list")] == ["b-1", "b-2"]
    assert api.call(transport, "batches.cancel", "b-1").is_failed
    assert (script.requests[1].method, script.requests[1].url.path) == (
        "POST",
        "/v1/batches/b-1/cancel",
    )


def test_fine_tune_create_sends_secrets_only_in_the_body(api: Api) -> None:
    job = {"id": "ft-1", "status": "pending", "model": "m", "training_file": "file-1"}
    script = Script(json_response(200, job))
    request = {"training_file": "file-1", "model": "m", "wandb_api_key": "wandb-secret-123"}
    result = api.call(script.transport(), "fine_tuning.create", request)
    assert result.id == "ft-1" and "wandb-secret-123" not in repr(result)
    assert json.loads(script.requests[0].content)["wandb_api_key"] == "wandb-secret-123"


def test_fine_tune_wait_fails_at_once_on_error(api: Api) -> None:
    job = {"id": "ft-1", "status": "running", "model": "m"}
    script = Script(
        json_response(200, job),
        json_response(
            200,
            {
                **job,
                "status": "error",
                "events": [
                    {"type": "job_error", "level": "error", "message": "CUDA out of memory"}
                ],
            },
        ),
    )
    with pytest.raises(JobFailedError) as info:
        wait(api, script.transport().fine_tuning, "ft-1", clock=FakeClock())
    assert script.calls == 2 and info.value.status == "error"


def test_videos_live_under_v2_and_finish_with_a_url(api: Api) -> None:
    created = {"id": "v-1", "object": "video", "status": "queued", "model": "google/veo-3.0"}
    done = {
        **created,
        "status": "completed",
        "outputs": {"video_url": "https://cdn/v.mp4", "cost": 0.28},
    }
    script = Script(json_response(200, created), json_response(200, done))
    transport = script.transport()
    job = api.call(
        transport, "videos.create", {"model": "google/veo-3.0", "prompt": "a cat", "seconds": 8}
    )
    assert job.id == "v-1"
    final = wait(api, transport.videos, "v-1", clock=FakeClock())
    assert final.outputs is not None and final.outputs.video_url == "https://cdn/v.mp4"
    assert [r.url.path for r in script.requests] == ["/v2/videos", "/v2/videos/v-1"]
    assert json.loads(script.requests[0].content)["seconds"] == "8"


ENDPOINT = {
    "id": "endpoint-1",
    "name": "me/llama-dedicated",
    "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "hardware": "1x_nvidia_h100_80gb_sxm",
    "type": "dedicated",
    "state": "PENDING",
    "autoscaling": {"min_replicas": 1, "max_replicas": 1},
}


def test_an_endpoint_is_created_once_started_and_waited_for(api: Api, sleeps: list[float]) -> None:
    script = Script(
        httpx.ReadTimeout("slow"),  # the create may have reached the server: not re-sent
        json_response(200, ENDPOINT),
    )
    request = {
        "model": ENDPOINT["model"],
        "hardware": ENDPOINT["hardware"],
        "autoscaling": {"min_replicas": 1, "max_replicas": 1},
    }
    with pytest.raises(APITimeoutError):
        api.call(script.transport(), "endpoints.create", request)
    assert script.calls == 1

    script = Script(
        json_response(200, {**ENDPOINT, "state": "STARTING"}),
        json_response(200, {**ENDPOINT, "state": "STARTED"}),
        json_response(200, {**ENDPOINT, "state": "STOPPED"}),
    )
    transport = script.transport()
    done = wait(api, transport.endpoints, "endpoint-1", clock=FakeClock())
    assert done.status_text == "STARTED"
    stopped = api.call(transport, "endpoints.update", "endpoint-1", {"state": "STOPPED"})
    assert stopped.status_text == "STOPPED"
    patch = script.requests[-1]
    assert patch.method == "PATCH" and json.loads(patch.content) == {"state": "STOPPED"}


def test_endpoint_list_hardware_and_delete(api: Api) -> None:
    hardware = {
        "id": "1x_nvidia_h100_80gb_sxm",
        "pricing": {"cents_per_minute": 5.5},
        "specs": {"gpu_type": "h100", "gpu_count": 1, "gpu_memory": 80},
        "availability": {"status": "available"},
    }
    script = Script(
        json_response(200, {"object": "list", "data": [ENDPOINT]}),
        json_response(200, {"data": [hardware]}),
        httpx.Response(204),
    )
    transport = script.transport()
    assert [e.id for e in api.call(transport, "endpoints.list", type="dedicated")] == ["endpoint-1"]
    assert api.call(transport, "endpoints.hardware", model="m")[0].id == hardware["id"]
    assert api.call(transport, "endpoints.delete", "endpoint-1") is None
    first, second, third = script.requests
    assert first.url.params["type"] == "dedicated" and second.url.params["model"] == "m"
    assert (third.method, third.url.path) == ("DELETE", "/v1/endpoints/endpoint-1")


def test_an_endpoint_in_error_fails_the_wait(api: Api) -> None:
    script = Script(json_response(200, {**ENDPOINT, "state": "ERROR"}))
    with pytest.raises(JobFailedError):
        wait(api, script.transport().endpoints, "endpoint-1", clock=FakeClock())


CREATES = {
    "batches.create": ("file-in",),
    "fine_tuning.create": ({"training_file": "file-1", "model": "m"},),
    "videos.create": ({"model": "google/veo-3.0", "prompt": "a cat"},),
    "endpoints.create": (
        {"model": "m", "hardware": "h", "autoscaling": {"min_replicas": 1, "max_replicas": 1}},
    ),
}


@pytest.mark.parametrize("name", list(CREATES))
@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("no answer"),
        httpx.RemoteProtocolError("cut"),
        json_response(500, wire.ERROR_500),
        json_response(502, wire.ERROR_500),
    ],
    ids=["read-timeout", "cut", "500", "502"],
)
def test_no_paid_create_is_sent_twice_by_a_retry(
    api: Api, sleeps: list[float], name: str, failure: Any
) -> None:
    script = Script(failure, json_response(200, {"id": "x"}))
    with pytest.raises(APIError):
        api.call(script.transport(max_retries=5), name, *CREATES[name])
    assert script.calls == 1 and sleeps == []

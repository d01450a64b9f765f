"""Dedicated endpoints: PENDING → STARTING → STARTED, PATCH to stop and start, the name
answering chat only while started, delete, list, and ``GET /hardware``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from together_integrations.testing import TogetherEmulator, VirtualClock

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
BODY = {
    "model": MODEL,
    "hardware": "2x_nvidia_h100_80gb_sxm",
    "autoscaling": {"min_replicas": 1, "max_replicas": 2},
    "display_name": "my endpoint",
}
KEYS = {
    "object", "id", "name", "display_name", "model", "hardware", "type", "owner", "state",
    "autoscaling", "created_at",
}  # fmt: skip


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=1_800_000_000)


@pytest.fixture
def emu(clock: VirtualClock) -> TogetherEmulator:
    return TogetherEmulator(clock=clock)


def state(client: httpx.Client, endpoint_id: str) -> str:
    value: str = client.get(f"/endpoints/{endpoint_id}").json()["state"]
    return value


def ask(client: httpx.Client, model: str) -> httpx.Response:
    return client.post(
        "/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}]}
    )


def test_start_stop_start_and_the_name_as_a_model(
    emu: TogetherEmulator, clock: VirtualClock
) -> None:
    emu.endpoints.script(pending=10, starting=60, stopping=30)
    with emu.http_client() as client:
        endpoint = client.post("/endpoints", json=BODY).json()
        assert set(endpoint) == KEYS and endpoint["state"] == "PENDING"
        assert endpoint["type"] == "dedicated" and endpoint["display_name"] == "my endpoint"
        name = endpoint["name"]
        refused = ask(client, name)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "model_not_available"
        assert "non-serverless model" in refused.json()["error"]["message"]
        clock.advance(10)
        assert state(client, endpoint["id"]) == "STARTING"
        clock.advance(60)
        assert state(client, endpoint["id"]) == "STARTED"
        assert ask(client, name).json()["model"] == name
        stopped = client.patch(f"/endpoints/{endpoint['id']}", json={"state": "STOPPED"})
        assert stopped.json()["state"] == "STOPPING"
        assert ask(client, name).status_code == 400
        clock.advance(30)
        assert state(client, endpoint["id"]) == "STOPPED"
        restarted = client.patch(f"/endpoints/{endpoint['id']}", json={"state": "STARTED"})
        assert restarted.json()["state"] == "STARTING"
        clock.advance(60)
        assert state(client, endpoint["id"]) == "STARTED" and ask(client, name).status_code == 200
        deleted = client.delete(f"/endpoints/{endpoint['id']}")
        assert deleted.status_code == 204 and deleted.content == b""
        assert client.get(f"/endpoints/{endpoint['id']}").status_code == 404
        assert ask(client, name).status_code == 404


def test_inactive_timeout_stops_an_idle_endpoint_on_virtual_time(
    emu: TogetherEmulator, clock: VirtualClock
) -> None:
    emu.endpoints.script(pending=0, starting=60, stopping=30, times=2)
    with emu.http_client() as client:
        idle = client.post("/endpoints", json={**BODY, "inactive_timeout": 10}).json()
        forever = client.post("/endpoints", json=BODY).json()
        clock.advance(60)
        assert state(client, idle["id"]) == "STARTED"
        clock.advance(9 * 60)
        assert ask(client, idle["name"]).status_code == 200  # a request: not idle
        clock.advance(9 * 60)
        assert state(client, idle["id"]) == "STARTED"  # 9 minutes since that request
        clock.advance(61)
        assert state(client, idle["id"]) == "STOPPING"  # 10 minutes idle: stops itself
        assert ask(client, idle["name"]).status_code == 400
        clock.advance(30)
        assert state(client, idle["id"]) == "STOPPED"
        assert state(client, forever["id"]) == "STARTED"  # no inactive_timeout: never
        # Restarted, the idle clock starts again from the new start.
        client.patch(f"/endpoints/{idle['id']}", json={"state": "STARTED"})
        clock.advance(60 + 9 * 60)
        assert state(client, idle["id"]) == "STARTED"
        clock.advance(60)
        assert state(client, idle["id"]) == "STOPPING"


def test_created_stopped_and_a_scripted_error(emu: TogetherEmulator, clock: VirtualClock) -> None:
    emu.endpoints.script(outcome="error", when=lambda body: body.get("display_name") == "bad")
    with emu.http_client() as client:
        stopped = client.post("/endpoints", json={**BODY, "state": "STOPPED"}).json()
        bad = client.post("/endpoints", json={**BODY, "display_name": "bad"}).json()
        clock.advance(3600)
        assert state(client, stopped["id"]) == "STOPPED"
        assert state(client, bad["id"]) == "ERROR"


def test_patch_scales_and_renames(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        endpoint = client.post("/endpoints", json=BODY).json()
        r = client.patch(
            f"/endpoints/{endpoint['id']}",
            json={"autoscaling": {"min_replicas": 2, "max_replicas": 4}, "display_name": "big"},
        )
        bad = client.patch(f"/endpoints/{endpoint['id']}", json={"state": "PAUSED"})
    assert r.json()["autoscaling"] == {"min_replicas": 2, "max_replicas": 4}
    assert r.json()["display_name"] == "big" and bad.status_code == 400


def test_list(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        a = client.post("/endpoints", json=BODY).json()
        listed = client.get("/endpoints", params={"type": "dedicated"}).json()
        serverless = client.get("/endpoints", params={"type": "serverless"}).json()
    assert listed["object"] == "list" and [e["id"] for e in listed["data"]] == [a["id"]]
    assert set(listed["data"][0]) == KEYS - {"display_name", "hardware", "autoscaling"}
    assert serverless == {"object": "list", "data": []}


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"hardware": "1x_toaster"}, "hardware"),
        ({"autoscaling": {"min_replicas": 3, "max_replicas": 1}}, "autoscaling"),
        ({"autoscaling": None}, "autoscaling"),
        ({"state": "PAUSED"}, "state"),
    ],
)
def test_invalid_requests(emu: TogetherEmulator, change: dict[str, Any], param: str) -> None:
    with emu.http_client() as client:
        r = client.post("/endpoints", json={**BODY, **change})
    assert r.status_code == 400 and r.json()["error"]["param"] == param


def test_unknown_model_is_404(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        assert client.post("/endpoints", json={**BODY, "model": "acme/x"}).status_code == 404


def test_hardware(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        plain = client.get("/hardware").json()
        for_model = client.get("/hardware", params={"model": MODEL}).json()
        missing = client.get("/hardware", params={"model": "acme/x"})
    assert plain["object"] == "list" and len(plain["data"]) >= 4
    item = for_model["data"][0]
    assert set(item) == {"object", "id", "pricing", "specs", "availability", "updated_at"}
    assert set(item["specs"]) == {"gpu_type", "gpu_link", "gpu_memory", "gpu_count"}
    assert item["availability"] == {"status": "available"}
    assert "availability" not in plain["data"][0] and missing.status_code == 404
    assert {h["id"] for h in plain["data"]} >= {BODY["hardware"]}

"""Dedicated endpoints and hardware (NOTES-jobs §8) on the emulator's clock.

``POST /endpoints`` starts a deployment: ``PENDING`` → ``STARTING`` → ``STARTED`` (or
``ERROR`` when scripted); ``PATCH`` with ``state: "STOPPED"`` goes through ``STOPPING`` to
``STOPPED``, and ``state: "STARTED"`` back through ``STARTING``. While ``STARTED`` the
endpoint's ``name`` answers chat requests like its model; otherwise requests naming it get
the real 400 "Unable to access non-serverless model" (code ``model_not_available``).
With ``inactive_timeout`` (minutes; 0 or None: never) a ``STARTED`` endpoint that answers no
request for that long stops by itself (``STOPPING`` → ``STOPPED``), on the emulator's clock.
Each read calls ``clock.poll()``.

Scripting, per endpoint::

    emu.endpoints.script(pending=30, starting=300)
    emu.endpoints.script(outcome="error")
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .jobs import Timeline
from .state import Predicate, take
from .wire import EmulatedRequest, EmulatedResponse, iso

if TYPE_CHECKING:
    from .core import TogetherEmulator
    from .router import Router

__all__ = ["HARDWARE", "Endpoint", "EndpointScript", "Endpoints", "register"]

OWNER = "emulator-user"
EndpointOutcome = Literal["started", "error"]


def _gpu(kind: str, count: int, cents: float) -> dict[str, Any]:
    return {"gpu_type": kind, "gpu_count": count, "gpu_memory": 80, "cents": cents}


HARDWARE: dict[str, dict[str, Any]] = {
    "1x_nvidia_a100_80gb_sxm": _gpu("a100-80gb", 1, 4.2),
    "2x_nvidia_a100_80gb_sxm": _gpu("a100-80gb", 2, 8.4),
    "1x_nvidia_h100_80gb_sxm": _gpu("h100-80gb", 1, 5.58),
    "2x_nvidia_h100_80gb_sxm": _gpu("h100-80gb", 2, 11.16),
    "4x_nvidia_h100_80gb_sxm": _gpu("h100-80gb", 4, 22.32),
    "8x_nvidia_h100_80gb_sxm": _gpu("h100-80gb", 8, 44.64),
}
"""Hardware ids → specs and price (cents per minute): the emulator's fixed offer."""


@dataclass
class EndpointScript:
    """How one endpoint's start-up goes (see :meth:`Endpoints.script`)."""

    pending: float = 10.0
    starting: float = 60.0
    stopping: float = 30.0
    outcome: EndpointOutcome = "started"
    when: Predicate | None = None
    times: int | None = 1


@dataclass
class Endpoint:
    id: str
    name: str
    display_name: str
    model: str
    hardware: str
    autoscaling: dict[str, Any]
    created_at: float
    timeline: Timeline
    script: EndpointScript
    inactive_timeout: int | None = None
    disable_speculative_decoding: bool = False
    last_request: float | None = None

    def state(self, now: float) -> str:
        self._idle_stop(now)
        return self.timeline.state(now)

    def _idle_stop(self, now: float) -> None:
        """Plan the auto-stop once ``inactive_timeout`` minutes passed with no request."""
        minutes = self.inactive_timeout
        if not isinstance(minutes, (int, float)) or isinstance(minutes, bool) or minutes <= 0:
            return
        if self.timeline.state(now) != "STARTED":
            return
        started = self.timeline.entered("STARTED", now)
        assert started is not None
        idle_since = max(started, self.last_request or started)
        deadline = idle_since + minutes * 60
        if deadline <= now:
            self.timeline.redirect(deadline, [("STOPPING", self.script.stopping)], "STOPPED")

    def touch(self, now: float) -> None:
        """A request named this endpoint at ``now`` (it is not idle)."""
        self._idle_stop(now)
        if self.timeline.state(now) == "STARTED":
            self.last_request = now

    def wire(self, now: float) -> dict[str, Any]:
        return {
            "object": "endpoint",
            "id": self.id,
            "name": self.name,
            "display_name": self.display_name,
            "model": self.model,
            "hardware": self.hardware,
            "type": "dedicated",
            "owner": OWNER,
            "state": self.state(now),
            "autoscaling": self.autoscaling,
            "created_at": iso(self.created_at),
        }

    def listed(self, now: float) -> dict[str, Any]:
        keys = ("object", "id", "name", "model", "type", "owner", "state", "created_at")
        full = self.wire(now)
        return {k: full[k] for k in keys}


class Endpoints:
    """The dedicated-endpoint family's state and scripting API (``emu.endpoints``)."""

    def __init__(self, emulator: TogetherEmulator) -> None:
        self._emu = emulator
        self._items: dict[str, Endpoint] = {}
        self._scripts: list[EndpointScript] = []
        self._lock: threading.RLock = emulator._lock
        self.default = EndpointScript()

    def script(
        self,
        *,
        pending: float = 10.0,
        starting: float = 60.0,
        stopping: float = 30.0,
        outcome: EndpointOutcome = "started",
        when: Predicate | None = None,
        times: int | None = 1,
    ) -> Endpoints:
        """Script the next endpoint(s): seconds ``PENDING``, ``STARTING`` and ``STOPPING``,
        and whether start-up ends ``STARTED`` or ``ERROR``; ``when`` (a predicate on the
        create body) and ``times`` as for replies."""
        if outcome not in ("started", "error"):
            raise ValueError(f"Unknown endpoint outcome {outcome!r}.")
        with self._lock:
            self._scripts.append(EndpointScript(pending, starting, stopping, outcome, when, times))
        return self

    def get(self, endpoint_id: str) -> Endpoint | None:
        return self._items.get(endpoint_id)

    def by_name(self, name: str) -> Endpoint | None:
        return next((e for e in self._items.values() if e.name == name), None)

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(list(self._items.values()))

    def delete(self, endpoint_id: str) -> bool:
        gone = self._items.pop(endpoint_id, None)
        if gone is not None:
            self._emu.models.pop(gone.name, None)
        return gone is not None

    def touch(self, name: str) -> None:
        """A request named model ``name``: if it is an endpoint, it is not idle."""
        endpoint = self.by_name(name)
        if endpoint is not None:
            endpoint.touch(self._emu.clock.now())

    def sync(self) -> None:
        """Let exactly the ``STARTED`` endpoints' names answer as models."""
        now = self._emu.clock.now()
        for endpoint in self:
            if endpoint.state(now) == "STARTED":
                base = self._emu.models.get(endpoint.model, {"type": "chat"})
                self._emu.models.setdefault(endpoint.name, dict(base))
            else:
                self._emu.models.pop(endpoint.name, None)

    def _start_phases(self, script: EndpointScript, first: bool) -> list[tuple[str, float]]:
        phases = [("PENDING", script.pending)] if first else []
        return [*phases, ("STARTING", script.starting)]

    def create(self, body: dict[str, Any]) -> Endpoint:
        script = take(self._scripts, body, self._lock) or self.default
        now = self._emu.clock.now()
        if body.get("state") == "STOPPED":
            timeline = Timeline([(now, "STOPPED")])
        else:
            final = "STARTED" if script.outcome == "started" else "ERROR"
            timeline = Timeline.plan(now, self._start_phases(script, True), final)
        model = str(body["model"])
        name = f"{OWNER}/{model.split('/')[-1]}-{self._emu.wire.token(8)}"
        endpoint = Endpoint(
            id="endpoint-" + self._emu.wire.uuid(),
            name=name,
            display_name=str(body.get("display_name") or name),
            model=model,
            hardware=str(body["hardware"]),
            autoscaling=dict(body["autoscaling"]),
            created_at=now,
            timeline=timeline,
            script=script,
            inactive_timeout=body.get("inactive_timeout"),
            disable_speculative_decoding=bool(body.get("disable_speculative_decoding")),
        )
        self._items[endpoint.id] = endpoint
        return endpoint

    def change_state(self, endpoint: Endpoint, wanted: str) -> str | None:
        """Start or stop; returns an error message when the move is not allowed."""
        now = self._emu.clock.now()
        current = endpoint.state(now)
        if wanted == "STOPPED":
            if current in ("STOPPED", "STOPPING"):
                return None
            endpoint.timeline.redirect(now, [("STOPPING", endpoint.script.stopping)], "STOPPED")
        elif wanted == "STARTED":
            if current in ("STARTED", "STARTING", "PENDING"):
                return None
            if current == "STOPPING":
                return f"Endpoint {endpoint.id} is stopping; start it once it is STOPPED"
            endpoint.timeline.redirect(now, self._start_phases(endpoint.script, False), "STARTED")
        else:
            return f"Invalid state {wanted!r}; use STARTED or STOPPED"
        return None


def register(router: Router) -> None:
    router.add("POST", "/v1/endpoints", create)
    router.add("GET", "/v1/endpoints", list_endpoints)
    router.add("GET", "/v1/endpoints/{endpoint_id}", retrieve)
    router.add("PATCH", "/v1/endpoints/{endpoint_id}", update)
    router.add("DELETE", "/v1/endpoints/{endpoint_id}", delete)
    router.add("GET", "/v1/hardware", hardware)


def _autoscaling_error(emu: TogetherEmulator, value: Any) -> EmulatedResponse | None:
    if not isinstance(value, dict):
        return emu.wire.error(400, "autoscaling is required", param="autoscaling")
    low, high = value.get("min_replicas"), value.get("max_replicas")
    if not isinstance(low, int) or not isinstance(high, int) or not 0 <= low <= high or high < 1:
        return emu.wire.error(
            400,
            "autoscaling needs 0 <= min_replicas <= max_replicas, max_replicas >= 1",
            param="autoscaling",
        )
    return None


def create(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    body = request.body
    wire = emu.wire
    model = body.get("model")
    if not model:
        return wire.error(400, "model is required", param="model")
    if model not in emu.models:
        return wire.model_not_available(str(model))
    if body.get("hardware") not in HARDWARE:
        return wire.error(
            400, f"Unknown hardware {body.get('hardware')!r}; see GET /hardware", param="hardware"
        )
    invalid = _autoscaling_error(emu, body.get("autoscaling"))
    if invalid is not None:
        return invalid
    if body.get("state") not in (None, "STARTED", "STOPPED"):
        return wire.error(400, "state must be STARTED or STOPPED", param="state")
    endpoint = emu.endpoints.create(body)
    return wire.json(endpoint.wire(emu.clock.now()))


def list_endpoints(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    kind = request.query_params().get("type")
    now = emu.clock.now()
    items = [e.listed(now) for e in emu.endpoints] if kind in (None, "", "dedicated") else []
    return emu.wire.json({"object": "list", "data": items})


def _endpoint(emu: TogetherEmulator, request: EmulatedRequest) -> Endpoint | EmulatedResponse:
    endpoint = emu.endpoints.get(request.params["endpoint_id"])
    if endpoint is None:
        return emu.wire.error(
            404, f"Endpoint {request.params['endpoint_id']} not found", code="not_found"
        )
    return endpoint


def retrieve(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    emu.clock.poll()
    endpoint = _endpoint(emu, request)
    if isinstance(endpoint, EmulatedResponse):
        return endpoint
    return emu.wire.json(endpoint.wire(emu.clock.now()))


def update(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    endpoint = _endpoint(emu, request)
    if isinstance(endpoint, EmulatedResponse):
        return endpoint
    body = request.body
    if "autoscaling" in body:
        invalid = _autoscaling_error(emu, body["autoscaling"])
        if invalid is not None:
            return invalid
        endpoint.autoscaling = dict(body["autoscaling"])
    if "display_name" in body:
        endpoint.display_name = str(body["display_name"])
    if "inactive_timeout" in body:
        endpoint.inactive_timeout = body["inactive_timeout"]
    if "state" in body:
        problem = emu.endpoints.change_state(endpoint, str(body["state"]))
        if problem is not None:
            return emu.wire.error(400, problem, param="state")
    return emu.wire.json(endpoint.wire(emu.clock.now()))


def delete(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    endpoint = _endpoint(emu, request)
    if isinstance(endpoint, EmulatedResponse):
        return endpoint
    emu.endpoints.delete(endpoint.id)
    response = emu.wire.json({})
    response.status, response.body = 204, b""
    response.headers.pop("content-type", None)
    return response


def hardware(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    model = request.query_params().get("model")
    if model and model not in emu.models:
        return emu.wire.model_not_available(model)
    stamp = iso(emu.clock.now())
    items = []
    for hardware_id, spec in HARDWARE.items():
        item: dict[str, Any] = {
            "object": "hardware",
            "id": hardware_id,
            "pricing": {"cents_per_minute": spec["cents"]},
            "specs": {
                "gpu_type": spec["gpu_type"],
                "gpu_link": "sxm",
                "gpu_memory": spec["gpu_memory"],
                "gpu_count": spec["gpu_count"],
            },
            "updated_at": stamp,
        }
        if model:
            item["availability"] = {"status": "available"}
        items.append(item)
    return emu.wire.json({"object": "list", "data": items})


def not_serverless(emu: TogetherEmulator, name: str) -> EmulatedResponse:
    """The 400 for a dedicated endpoint that is not running (NOTES §2)."""
    return emu.wire.error(
        400,
        f"Unable to access non-serverless model {name}. Please visit "
        "https://api.together.ai/models to create and start a new dedicated endpoint "
        "for the model.",
        code="model_not_available",
    )

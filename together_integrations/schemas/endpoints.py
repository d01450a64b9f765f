"""Dedicated endpoints: ``/endpoints`` (create, list, retrieve, update, delete) and
``GET /hardware``, NOTES-jobs §8.

Nothing here was recorded; shapes follow the spec. A dedicated model is then called by the
endpoint's ``name``. As a job, an endpoint settles when it is ``STARTED``, ``STOPPED`` or
``ERROR``; only ``ERROR`` is a failure.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, PlainValidator

from ._base import RequestModel, WireModel
from .errors import error_message_text
from .files import JobModel, LenientStrEnum, ListEnvelope, Timestamp


class EndpointState(LenientStrEnum):
    """``PENDING → STARTING → STARTED``, ``STOPPING → STOPPED``, or ``ERROR``."""

    PENDING = "PENDING"
    STARTING = "STARTING"
    STARTED = "STARTED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    ERROR = "ERROR"


EndpointStateValue = Annotated[EndpointState | str, PlainValidator(EndpointState.parse)]


class Autoscaling(RequestModel):
    """Replica bounds (request and response)."""

    min_replicas: int
    max_replicas: int


class EndpointCreateRequest(RequestModel):
    """A ``POST /endpoints`` body. ``inactive_timeout`` is in minutes (0 or unset: never)."""

    model: str
    hardware: str
    autoscaling: Autoscaling
    display_name: str | None = None
    disable_speculative_decoding: bool | None = None
    state: Literal["STARTED", "STOPPED"] | None = None
    inactive_timeout: int | None = None
    availability_zone: str | None = None


class EndpointUpdateRequest(RequestModel):
    """A ``PATCH /endpoints/{id}`` body: start, stop, scale or rename. Unset fields are not
    sent (send ``inactive_timeout=0`` to switch the timeout off)."""

    display_name: str | None = None
    state: Literal["STARTED", "STOPPED"] | None = None
    autoscaling: Autoscaling | None = None
    inactive_timeout: int | None = None


class DedicatedEndpoint(JobModel):
    """An endpoint (dedicated, or serverless in listings, which carry fewer fields)."""

    TERMINAL_STATUSES: ClassVar[frozenset[str]] = frozenset(
        {EndpointState.STARTED, EndpointState.STOPPED, EndpointState.ERROR}
    )
    FAILED_STATUSES: ClassVar[frozenset[str]] = frozenset({EndpointState.ERROR})

    id: str
    object: str = "endpoint"
    name: str | None = None
    display_name: str | None = None
    model: str | None = None
    hardware: str | None = None
    type: str | None = None
    owner: str | None = None
    state: EndpointStateValue = ""
    autoscaling: Autoscaling | dict[str, Any] | None = None
    created_at: Timestamp = None

    def _current_status(self) -> LenientStrEnum | str:
        return self.state

    @property
    def failure_message(self) -> str | None:
        """An ``error`` or ``message`` the server attached, if any (the spec defines none)."""
        extra = self.model_extra or {}
        for key in ("error", "error_message", "message"):
            text = error_message_text(extra.get(key))
            if text:
                return text
        return None


class EndpointList(ListEnvelope):
    """``GET /endpoints``."""

    data: list[DedicatedEndpoint] = Field(default_factory=list)


class HardwarePricing(WireModel):
    """Uptime price."""

    cents_per_minute: float | None = None


class HardwareSpecs(WireModel):
    """GPU type, count, memory (GB) and interconnect."""

    gpu_type: str | None = None
    gpu_count: int | None = None
    gpu_memory: float | None = None
    gpu_link: str | None = None


class HardwareAvailability(WireModel):
    """``available``, ``unavailable`` or ``insufficient`` (only with ``?model=``)."""

    status: str | None = None


class Hardware(WireModel):
    """A hardware configuration, such as ``2x_nvidia_a100_80gb_sxm``."""

    id: str
    object: str = "hardware"
    pricing: HardwarePricing | None = None
    specs: HardwareSpecs | None = None
    availability: HardwareAvailability | None = None
    updated_at: Timestamp = None


class HardwareList(ListEnvelope):
    """``GET /hardware``."""

    data: list[Hardware] = Field(default_factory=list)

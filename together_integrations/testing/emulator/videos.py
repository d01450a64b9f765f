"""Videos under the **v2** root (NOTES-jobs §4): ``POST /v2/videos``, ``GET /v2/videos/{id}``.

A job is ``queued``, then ``in_progress``, then ``completed`` with ``outputs.video_url``
(served by this emulator, at the origin the client used) or, when scripted, ``failed``
with ``error: {code, message}``, or ``cancelled`` (a status the docs list, for a job
cancelled on Together's side; the API has no cancel operation). ``created_at`` and
``completed_at`` are unix seconds. Each read calls ``clock.poll()``.

Scripting, per job::

    emu.videos.script(queued=5, duration=120)
    emu.videos.script(outcome="failed", error_code="content_policy_violation")
    emu.videos.script(outcome="cancelled", duration=30)
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .jobs import Timeline
from .state import Predicate, take
from .wire import EmulatedRequest, EmulatedResponse

if TYPE_CHECKING:
    from .core import TogetherEmulator
    from .router import Router

__all__ = ["Video", "VideoScript", "Videos", "register"]

VideoOutcome = Literal["completed", "failed", "cancelled"]
MEDIA_PREFIX = "/storage/videos"


@dataclass
class VideoScript:
    """How one video job unfolds (see :meth:`Videos.script`)."""

    queued: float = 5.0
    duration: float = 60.0
    outcome: VideoOutcome = "completed"
    error_code: str = "generation_failed"
    error_message: str = "The video could not be generated"
    when: Predicate | None = None
    times: int | None = 1


@dataclass
class Video:
    id: str
    body: dict[str, Any]
    created_at: float
    timeline: Timeline
    script: VideoScript
    origin: str

    @property
    def extension(self) -> str:
        return "webm" if str(self.body.get("output_format", "")).upper() == "WEBM" else "mp4"

    def wire(self, now: float) -> dict[str, Any]:
        status = self.timeline.state(now)
        body = self.body
        width, height = body.get("width") or 1280, body.get("height") or 720
        payload: dict[str, Any] = {
            "id": self.id,
            "object": "video",
            "model": body["model"],
            "status": status,
            "created_at": int(self.created_at),
            "completed_at": None,
            "size": f"{width}x{height}",
            "seconds": str(body.get("seconds") or "5"),
            "error": None,
            "outputs": None,
        }
        terminal = ("completed", "failed", "cancelled")
        ended = self.timeline.entered(status, now) if status in terminal else None
        if ended is not None:
            payload["completed_at"] = int(ended)
        if status == "completed":
            payload["outputs"] = {
                "cost": 0.28,
                "video_url": f"{self.origin}{MEDIA_PREFIX}/{self.id}.{self.extension}",
            }
        elif status == "failed":
            payload["error"] = {
                "code": self.script.error_code,
                "message": self.script.error_message,
            }
        return payload

    def content(self) -> bytes:
        digest = hashlib.sha256(self.id.encode()).digest()
        if self.extension == "webm":
            return b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + digest
        ftyp = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
        mdat = (8 + len(digest) * 4).to_bytes(4, "big") + b"mdat" + digest * 4
        return ftyp + mdat


class Videos:
    """The video family's state and scripting API (``emu.videos``)."""

    def __init__(self, emulator: TogetherEmulator) -> None:
        self._emu = emulator
        self._jobs: dict[str, Video] = {}
        self._scripts: list[VideoScript] = []
        self._lock: threading.RLock = emulator._lock
        self.default = VideoScript()

    def script(
        self,
        *,
        queued: float = 5.0,
        duration: float = 60.0,
        outcome: VideoOutcome = "completed",
        error_code: str = "generation_failed",
        error_message: str = "The video could not be generated",
        when: Predicate | None = None,
        times: int | None = 1,
    ) -> Videos:
        """Script the next video job(s): seconds ``queued`` and ``in_progress``, and whether
        it ends ``completed``, ``failed`` (with ``error_code`` / ``error_message``) or
        ``cancelled`` (no outputs, no error); ``when`` (a predicate on the create body) and
        ``times`` as for replies."""
        if outcome not in ("completed", "failed", "cancelled"):
            raise ValueError(f"Unknown video outcome {outcome!r}.")
        with self._lock:
            self._scripts.append(
                VideoScript(queued, duration, outcome, error_code, error_message, when, times)
            )
        return self

    def get(self, video_id: str) -> Video | None:
        return self._jobs.get(video_id)

    def create(self, body: dict[str, Any], origin: str) -> Video:
        script = take(self._scripts, body, self._lock) or self.default
        now = self._emu.clock.now()
        timeline = Timeline.plan(
            now, [("queued", script.queued), ("in_progress", script.duration)], script.outcome
        )
        video = Video("video_" + self._emu.wire.token(24), body, now, timeline, script, origin)
        self._jobs[video.id] = video
        return video


def register(router: Router) -> None:
    router.add("POST", "/v2/videos", create, needs_model=True)
    router.add("GET", "/v2/videos/{video_id}", retrieve)
    router.add("GET", MEDIA_PREFIX + "/{name}", media, public=True)


def create(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    body = request.body
    if emu.models[body["model"]].get("type") != "video":
        return emu.wire.error(400, f"Model {body['model']} is not a video model", param="model")
    prompt = body.get("prompt")
    if prompt is not None and (not isinstance(prompt, str) or not 1 <= len(prompt) <= 32000):
        return emu.wire.error(400, "prompt must be 1 to 32000 characters", param="prompt")
    seconds = body.get("seconds")
    if seconds is not None and not isinstance(seconds, str):
        return emu.wire.error(400, 'seconds must be a string, e.g. "5"', param="seconds")
    video = emu.videos.create(body, request.origin)
    return emu.wire.json(video.wire(emu.clock.now()))


def retrieve(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    emu.clock.poll()
    video = emu.videos.get(request.params["video_id"])
    if video is None:
        return emu.wire.error(
            404, f"Video {request.params['video_id']} not found", code="not_found"
        )
    return emu.wire.json(video.wire(emu.clock.now()))


def media(emu: TogetherEmulator, request: EmulatedRequest) -> EmulatedResponse:
    name = request.params["name"]
    video = emu.videos.get(name.rsplit(".", 1)[0])
    if video is None or video.timeline.state(emu.clock.now()) != "completed":
        return emu.wire.error(404, f"No video at {request.path}", code="not_found")
    ctype = "video/webm" if video.extension == "webm" else "video/mp4"
    return emu.wire.binary(video.content(), ctype)

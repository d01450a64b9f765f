"""The router: methods, path parameters, most-literal-first, and the two roots (/v1, /v2)."""

from __future__ import annotations

from typing import Any

import pytest

from together_integrations.testing.emulator import (
    ROUTER,
    EmulatedResponse,
    Router,
    TogetherEmulator,
)


def _handler(tag: str) -> Any:
    def handle(emu: TogetherEmulator, request: Any) -> EmulatedResponse:
        return EmulatedResponse(200, {}, tag.encode())

    return handle


@pytest.fixture
def router() -> Router:
    r = Router()
    r.add("GET", "/v1/files/{file_id}", _handler("get-file"))
    r.add("DELETE", "/v1/files/{file_id}", _handler("delete-file"))
    r.add("GET", "/v1/files/{file_id}/content", _handler("content"))
    r.add("POST", "/v1/fine-tunes/{ft_id}", _handler("by-id"))
    r.add("POST", "/v1/fine-tunes/estimate-price", _handler("estimate"))
    r.add("GET", "/v2/videos/{video_id}", _handler("video"))
    return r


def test_path_parameters_and_methods(router: Router) -> None:
    found = router.match("GET", "/v1/files/file-abc")
    assert found is not None and found[1] == {"file_id": "file-abc"}
    assert found[0].pattern == "/v1/files/{file_id}"
    delete = router.match("delete", "/v1/files/file-abc/")
    assert delete is not None and delete[0].method == "DELETE"
    assert router.match("PUT", "/v1/files/file-abc") is None
    content = router.match("GET", "/v1/files/f1/content")
    assert content is not None and content[1] == {"file_id": "f1"}


def test_a_parameter_is_one_segment(router: Router) -> None:
    assert router.match("GET", "/v1/files/a/b") is None
    assert router.match("GET", "/v1/files/") is None


def test_literal_routes_win_over_parameters(router: Router) -> None:
    found = router.match("POST", "/v1/fine-tunes/estimate-price")
    assert found is not None and found[0].pattern == "/v1/fine-tunes/estimate-price"
    other = router.match("POST", "/v1/fine-tunes/ft-1")
    assert other is not None and other[1] == {"ft_id": "ft-1"}


def test_the_v2_root_is_routed(router: Router) -> None:
    found = router.match("GET", "/v2/videos/v-1")
    assert found is not None and found[1] == {"video_id": "v-1"}
    assert router.match("GET", "/v1/videos/v-1") is None


def test_the_emulator_routes_every_family() -> None:
    table = {(r.method, r.pattern) for r in ROUTER.routes}
    assert {
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/completions"),
        ("POST", "/v1/embeddings"),
        ("POST", "/v1/rerank"),
        ("POST", "/v1/images/generations"),
        ("POST", "/v1/audio/speech"),
        ("POST", "/v1/audio/transcriptions"),
        ("GET", "/v1/models"),
        ("POST", "/v1/files"),
        ("PUT", "/storage/uploads/{file_id}"),
        ("GET", "/v1/files/{file_id}/content"),
        ("POST", "/v1/batches"),
        ("POST", "/v1/batches/{batch_id}/cancel"),
        ("POST", "/v1/fine-tunes"),
        ("POST", "/v1/fine-tunes/estimate-price"),
        ("GET", "/v1/finetune/download"),
        ("POST", "/v2/videos"),
        ("GET", "/v2/videos/{video_id}"),
        ("PATCH", "/v1/endpoints/{endpoint_id}"),
        ("GET", "/v1/hardware"),
        ("GET", "/v1/voices"),
        ("POST", "/v1/audio/translations"),
    } <= table
    # Only the URLs real object storage or the CDN would serve go without the key.
    public = {r.pattern for r in ROUTER.routes if r.public}
    assert public == {"/storage/uploads/{file_id}", "/storage/videos/{name}", "/shrt/{slug}"}


def test_unknown_paths_and_methods_are_404(emu: TogetherEmulator) -> None:
    with emu.http_client() as client:
        missing = client.post("/nothing/here", json={})
        wrong_method = client.get("/chat/completions")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 404
    assert "/v1/nothing/here" in missing.json()["error"]["message"]

"""Planning without I/O: custom ids, the run key, cutting into jobs, refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from together_integrations import ModelCapabilities, ModelCatalog, TogetherConfigError
from together_integrations.batch import (
    BatchEndpointError,
    BatchLimits,
    BatchNotServedError,
    BatchPlanError,
    check_batch_model,
    parse_custom_id,
    plan_batch,
)
from together_integrations.batch._plan import plan_followup
from together_integrations.schemas.batches import (
    BATCH_CUSTOM_ID_MAX,
    BATCH_MAX_BYTES,
    BATCH_MAX_LINES,
    BatchInputLine,
)

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def chat(i: int, text: str | None = None, **extra: Any) -> dict[str, Any]:
    content = text if text is not None else f"row {i}"
    return {"model": MODEL, "messages": [{"role": "user", "content": content}], **extra}


def lines_of(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines()]


def test_custom_ids_are_unique_short_stable_and_read_back_to_their_index() -> None:
    requests = [chat(i % 3) for i in range(30)]  # repeated bodies still get distinct ids
    plan = plan_batch(requests)
    again = plan_batch([json.loads(json.dumps(r)) for r in requests])  # rebuilt equal
    assert plan.custom_ids == again.custom_ids
    # Key order is part of the request (a JSON schema's property order steers the answer).
    reordered = plan_batch([dict(reversed(list(r.items()))) for r in requests])
    assert reordered.custom_ids != plan.custom_ids
    assert len(set(plan.custom_ids)) == 30
    assert all(len(cid) <= BATCH_CUSTOM_ID_MAX for cid in plan.custom_ids)
    assert [parse_custom_id(cid) for cid in plan.custom_ids] == [(i, 0) for i in range(30)]
    lines = lines_of(plan.jobs[0].data)
    assert [line["custom_id"] for line in lines] == list(plan.custom_ids)
    for line in lines:
        BatchInputLine.model_validate(line)  # the wire schema accepts every line


def test_the_run_key_follows_the_requests() -> None:
    requests = [chat(i) for i in range(5)]
    key = plan_batch(requests).run_key
    assert plan_batch([dict(r) for r in requests]).run_key == key
    assert plan_batch(requests[::-1]).run_key != key
    assert plan_batch([*requests[:4], chat(4, "changed")]).run_key != key
    assert plan_batch(requests[:4]).run_key != key
    assert len(key) == 32 and int(key, 16) >= 0


def test_stream_is_dropped_and_the_body_is_otherwise_untouched() -> None:
    body = chat(0, stream=True, stream_options={"include_usage": True}, temperature=0.2)
    plan = plan_batch([body])
    (line,) = lines_of(plan.jobs[0].data)
    assert line["body"] == chat(0, temperature=0.2)
    assert "stream" in body  # the caller's dict is not mutated


def test_120000_inputs_are_cut_into_three_jobs_by_lines() -> None:
    requests = [
        {"model": MODEL, "messages": [{"role": "user", "content": str(i)}]} for i in range(120_000)
    ]
    plan = plan_batch(requests)
    assert len(plan) == 120_000
    assert [job.lines for job in plan.jobs] == [BATCH_MAX_LINES, BATCH_MAX_LINES, 20_000]
    assert [job.spans for job in plan.jobs] == [
        ((0, 50_000),),
        ((50_000, 100_000),),
        ((100_000, 120_000),),
    ]
    assert all(
        job.data.count(b"\n") == job.lines and job.size <= BATCH_MAX_BYTES for job in plan.jobs
    )
    assert plan.jobs[2].indices()[0] == 100_000


def test_jobs_are_cut_by_bytes_under_the_limit() -> None:
    limits = BatchLimits(max_lines=1000, max_bytes=1000)
    plan = plan_batch([chat(i, "x" * 150) for i in range(40)], limits=limits)
    assert len(plan.jobs) > 1
    assert all(job.size <= 1000 and len(job.data) == job.size for job in plan.jobs)
    assert sum(job.lines for job in plan.jobs) == 40
    # each job holds as many lines as fit: adding the next one would cross the limit
    line_size = plan.jobs[0].size // plan.jobs[0].lines
    assert plan.jobs[0].size + line_size > 1000


def test_the_real_byte_limit_cuts_a_large_run() -> None:
    big = "y" * 1_000_000
    plan = plan_batch([chat(i, big) for i in range(101)])
    assert [job.lines for job in plan.jobs] == [99, 2]
    assert plan.jobs[0].size <= BATCH_MAX_BYTES < plan.jobs[0].size + plan.jobs[1].size // 2


def test_a_single_line_over_the_limit_is_refused_with_its_index() -> None:
    with pytest.raises(BatchPlanError) as info:
        plan_batch([chat(0), chat(1, "z" * 2000)], limits=BatchLimits(max_bytes=1000))
    assert info.value.index == 1 and "1000-byte" in str(info.value)


@pytest.mark.parametrize("endpoint", ["/v1/embeddings", "/v1/completions", "/v1/rerank", "images"])
def test_endpoints_the_batch_api_does_not_accept_are_refused(endpoint: str) -> None:
    with pytest.raises(BatchEndpointError) as info:
        plan_batch([chat(0)], endpoint=endpoint)
    assert isinstance(info.value, TogetherConfigError)
    assert info.value.endpoint == endpoint and "/v1/chat/completions" in info.value.accepted
    assert "/v1/audio/transcriptions" in str(info.value)
    if "embeddings" in endpoint:
        assert "online embeddings batcher" in str(info.value)


@pytest.mark.parametrize(
    "endpoint", ["chat/completions", "/chat/completions", "/v1/chat/completions/"]
)
def test_endpoint_spellings_are_normalized(endpoint: str) -> None:
    assert plan_batch([chat(0)], endpoint=endpoint).endpoint == "/v1/chat/completions"


def test_a_request_that_is_not_a_dict_is_refused() -> None:
    with pytest.raises(BatchPlanError, match="Request 1 is a str") as info:
        plan_batch([chat(0), "hello"])  # type: ignore[list-item]
    assert info.value.index == 1


def test_audio_lines_name_their_file_by_url() -> None:
    body = {"model": "openai/whisper-large-v3", "file": "https://example.com/a.mp3"}
    plan = plan_batch([body], endpoint="/v1/audio/transcriptions")
    (line,) = lines_of(plan.jobs[0].data)
    assert line["method"] == "FILE" and line["body"] == body
    assert plan.model_id == "openai/whisper-large-v3"
    with pytest.raises(BatchPlanError, match="by URL"):
        plan_batch(
            [{"model": "openai/whisper-large-v3", "file": "/tmp/a.mp3"}],
            endpoint="audio/translations",
        )


def test_model_id_is_set_only_when_every_body_names_the_same_model() -> None:
    assert plan_batch([chat(0), chat(1)]).model_id == MODEL
    assert plan_batch([chat(0), {**chat(1), "model": "other/model"}]).model_id is None
    assert plan_batch([{"messages": []}]).model_id is None


def test_an_empty_run_has_no_jobs() -> None:
    plan = plan_batch([])
    assert plan.jobs == () and len(plan) == 0


def test_followup_lines_have_their_own_ids_and_bytes() -> None:
    plan = plan_batch([chat(i) for i in range(10)])
    jobs = plan_followup(
        [(7, plan.bodies[7]), (2, plan.bodies[2]), (3, plan.bodies[3])],
        endpoint=plan.endpoint,
        round=1,
    )
    (job,) = jobs
    assert job.key == "r1-0" and job.spans == ((2, 4), (7, 8)) and job.indices() == [2, 3, 7]
    ids = [line["custom_id"] for line in lines_of(job.data)]
    assert ids == [plan.custom_ids[i] + "-r1" for i in (2, 3, 7)]
    assert [parse_custom_id(cid) for cid in ids] == [(2, 1), (3, 1), (7, 1)]
    with pytest.raises(BatchPlanError):
        plan_followup([], endpoint=plan.endpoint, round=0)


@pytest.mark.parametrize(
    "text", ["", "abc", "1-xyz", "x-0123456789abcdef", "3-0123456789abcdef-q1"]
)
def test_foreign_custom_ids_are_not_read(text: str) -> None:
    assert parse_custom_id(text) is None


def test_reprs_hold_no_prompt() -> None:
    plan = plan_batch([chat(0, "a secret prompt")])
    assert "secret" not in repr(plan) and "secret" not in repr(plan.jobs[0])


def test_limits_must_be_positive() -> None:
    with pytest.raises(BatchPlanError):
        BatchLimits(max_lines=0)
    assert (BatchLimits().max_lines, BatchLimits().max_bytes) == (BATCH_MAX_LINES, BATCH_MAX_BYTES)


@pytest.mark.parametrize(
    ("body", "endpoint"),
    [
        (chat(0, "naïve café ✓", temperature=0.5, stop=["\n"]), "/v1/chat/completions"),
        (
            {"model": "openai/whisper-large-v3", "file": "https://example.com/ü.mp3"},
            "/v1/audio/transcriptions",
        ),
    ],
)
def test_a_line_is_the_compact_encoding_of_its_item_in_sent_order(
    body: dict[str, Any], endpoint: str
) -> None:
    # A stored run is checked against the sha256 of these bytes: they must never drift.
    plan = plan_batch([body], endpoint=endpoint)
    item: dict[str, Any] = {"body": body, "custom_id": plan.custom_ids[0]}
    if "audio" in endpoint:
        item["method"] = "FILE"
    encoded = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
    assert plan.jobs[0].data == encoded.encode() + b"\n"
    (followup,) = plan_followup([(0, plan.bodies[0])], endpoint=endpoint, round=1)
    item["custom_id"] = plan.custom_ids[0] + "-r1"
    encoded = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
    assert followup.data == encoded.encode() + b"\n"


def test_a_json_schema_keeps_its_property_order() -> None:
    # Constrained decoding writes fields in schema order: "reasoning" must stay first.
    schema = {"type": "object", "properties": {"reasoning": {}, "answer": {}}}
    body = chat(0, "q", response_format={"type": "json_schema", "json_schema": {"schema": schema}})
    line = plan_batch([body]).jobs[0].data
    assert line.index(b'"reasoning"') < line.index(b'"answer"')
    assert json.loads(line)["body"] == body


def test_a_model_the_batch_api_does_not_serve_is_refused_before_upload() -> None:
    requests = [chat(0), {**chat(1), "model": "deepseek-ai/DeepSeek-R1"}, chat(2)]
    with pytest.raises(BatchNotServedError, match="DeepSeek-R1") as info:
        plan_batch(requests)
    assert info.value.model == "deepseek-ai/DeepSeek-R1" and info.value.index == 1
    assert isinstance(info.value, TogetherConfigError)
    assert len(plan_batch(requests, check_models=False)) == 3  # the server may judge it


def test_check_batch_model_passes_served_and_unknown_models() -> None:
    assert check_batch_model(MODEL).batch_api is True
    unknown = check_batch_model("someone/private-finetune-v2")
    assert unknown.batch_api is None and not unknown.known
    catalog = ModelCatalog([ModelCapabilities(id="acme/no-batch", batch_api=False)])
    with pytest.raises(BatchNotServedError, match="does not serve"):
        check_batch_model("ACME/no-batch", catalog=catalog)
    with pytest.raises(BatchNotServedError):
        plan_batch([{**chat(0), "model": "acme/no-batch"}], catalog=catalog)
    assert check_batch_model("acme/no-batch").batch_api is None  # the default catalog

"""ChatTogether's ``batch_api``: LangChain's ``batch()`` family on Together's Batch API.

Everything runs on the in-process emulator and virtual time; each call-shaped test runs the
sync method and its async twin (``mode``) through one body. What a test checks against the
online path, it gets from the online path on the same emulator.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import threading
from pathlib import Path
from typing import Any

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.exceptions import ModelError
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from pydantic import BaseModel, ValidationError

from together_integrations import batch
from together_integrations.batch import DirectoryStore, MemoryStore, plan_batch
from together_integrations.langchain import (
    BatchNotServedError,
    ChatTogether,
    TogetherBatchItemError,
    TogetherBatchJobFailedError,
    TogetherBatchResultsError,
    TogetherBatchRun,
    TogetherBatchTimeoutError,
)
from together_integrations.langchain._errors import LCInvalidArgumentsError
from together_integrations.testing import TogetherEmulator, VirtualClock

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"  # batch_api True in the catalog
UNSERVED = "deepseek-ai/DeepSeek-R1"  # batch_api False: Together's batch jobs fail
UNCATALOGUED = "acme/uncatalogued-chat"  # batch_api None: not in the catalog
BATCHES = "/v1/batches"
CHAT = "/v1/chat/completions"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def emu(clock: VirtualClock) -> TogetherEmulator:
    emulator = TogetherEmulator(clock=clock)
    emulator.models[UNCATALOGUED] = {"type": "chat", "context_length": 8192}
    return emulator


@pytest.fixture
def store(tmp_path: Path) -> DirectoryStore:
    return DirectoryStore(tmp_path / "runs")


@pytest.fixture
def make(emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore) -> Any:
    def build(**kwargs: Any) -> ChatTogether:
        kwargs.setdefault("model", MODEL)
        kwargs.setdefault("batch_api", "on")
        return ChatTogether(
            transport=emu.transport(max_retries=0), batch_store=store, batch_clock=clock, **kwargs
        )

    return build


def rows(n: int, prefix: str = "row") -> list[str]:
    return [f"{prefix} {i}" for i in range(n)]


def count(emu: TogetherEmulator, method: str, path: str) -> int:
    return sum(1 for r in emu.requests if r.method == method and r.path == path)


def run_batch(runnable: Any, inputs: list[Any], mode: str, **kwargs: Any) -> list[Any]:
    if mode == "sync":
        return list(runnable.batch(inputs, **kwargs))
    return list(asyncio.run(runnable.abatch(inputs, **kwargs)))


def run_as_completed(runnable: Any, inputs: list[Any], mode: str, **kwargs: Any) -> list[Any]:
    if mode == "sync":
        return list(runnable.batch_as_completed(inputs, **kwargs))

    async def collect() -> list[Any]:
        return [pair async for pair in runnable.abatch_as_completed(inputs, **kwargs)]

    return asyncio.run(collect())


def call(obj: Any, name: str, mode: str, **kwargs: Any) -> Any:
    """``obj.name(...)`` or its async twin."""
    if mode == "sync":
        return getattr(obj, name)(**kwargs)
    twin = {"wait": "await_until_done"}.get(name, "a" + name)
    return asyncio.run(getattr(obj, twin)(**kwargs))


def custom_ids(llm: ChatTogether, inputs: list[str], **kwargs: Any) -> tuple[str, ...]:
    """The ``custom_id`` each input gets, from the bodies the online path builds."""
    bodies = [
        json.loads(llm._request([HumanMessage(text)], None, dict(kwargs)).request.to_wire_json())
        for text in inputs
    ]
    return plan_batch(bodies).custom_ids


def job_bodies(emu: TogetherEmulator) -> list[dict[str, Any]]:
    (job,) = emu.batches
    return [line.body for line in job.lines]


# ------------------------------------------------------------------- the batch path


def test_1000_inputs_take_fewer_than_10_requests_and_come_back_in_input_order(
    emu: TogetherEmulator, make: Any, mode: str
) -> None:
    # A 65 s job: the poller (30 s, then x1.5 with 10 % jitter) looks 3 times, whatever
    # the jitter draws: upload (3 requests) + create + 3 looks + the output file = 8.
    emu.batches.script(duration=60, validating=5)
    out = run_batch(make(), rows(1000), mode)
    assert len(emu.requests) < 10, [(r.method, r.path) for r in emu.requests]
    assert count(emu, "POST", BATCHES) == 1 and count(emu, "POST", CHAT) == 0
    assert [m.content for m in out] == [f"You said: row {i}" for i in range(1000)]
    (job,) = emu.batches
    assert all(isinstance(m, AIMessage) for m in out)
    assert {m.response_metadata["batch_id"] for m in out} == {job.id}
    assert out[7].usage_metadata is not None and out[7].usage_metadata["total_tokens"] > 0
    assert out[7].response_metadata["finish_reason"] == "stop"


def test_as_completed_yields_every_input_once_from_one_job(
    emu: TogetherEmulator, make: Any, mode: str
) -> None:
    pairs = run_as_completed(make(), rows(150), mode)
    assert sorted(i for i, _ in pairs) == list(range(150))
    assert all(message.content == f"You said: row {i}" for i, message in pairs)
    assert count(emu, "POST", BATCHES) == 1 and count(emu, "POST", CHAT) == 0


def test_the_batch_body_is_the_online_body(emu: TogetherEmulator, make: Any, mode: str) -> None:
    options = {"temperature": 0.3, "max_tokens": 64, "stop": ["END"], "seed": 7}
    online = make(batch_api="off", **options)
    online.invoke("row 0", top_k=5)
    sent_online = emu.requests[-1].json
    assert isinstance(sent_online, dict)
    run_batch(make(**options), ["row 0", "row 1"], mode, top_k=5)
    first = job_bodies(emu)[0]
    expected = {k: v for k, v in sent_online.items() if k != "stream"}
    assert json.dumps(first) == json.dumps(expected)  # the same keys, in the same order


@pytest.mark.parametrize(
    ("settings", "model", "n", "batched"),
    [
        ({"batch_api": "off"}, MODEL, 150, False),
        ({"batch_api": "auto"}, MODEL, 99, False),  # below the default threshold of 100
        ({"batch_api": "auto"}, MODEL, 100, True),
        ({"batch_api": "auto", "batch_api_min_inputs": 3}, MODEL, 3, True),
        ({"batch_api": "auto", "batch_api_min_inputs": 3}, UNSERVED, 3, False),
        ({"batch_api": "auto", "batch_api_min_inputs": 3}, UNCATALOGUED, 3, False),
        ({"batch_api": "on"}, UNCATALOGUED, 3, True),  # asked for: unknown is tried
    ],
)
def test_which_inputs_go_through_the_batch_api(
    emu: TogetherEmulator,
    make: Any,
    mode: str,
    settings: dict[str, Any],
    model: str,
    n: int,
    batched: bool,
) -> None:
    out = run_batch(make(model=model, **settings), rows(n), mode)
    assert [m.content for m in out] == [f"You said: row {i}" for i in range(n)]
    assert count(emu, "POST", BATCHES) == (1 if batched else 0)
    assert count(emu, "POST", CHAT) == (0 if batched else n)


@pytest.mark.parametrize("per_call", [False, True])
def test_on_refuses_a_model_the_batch_api_does_not_serve_before_any_upload(
    emu: TogetherEmulator, make: Any, mode: str, per_call: bool
) -> None:
    llm = make(model=MODEL if per_call else UNSERVED, batch_api="on")
    runnable = llm.bind(model=UNSERVED) if per_call else llm
    with pytest.raises(BatchNotServedError) as info:
        run_batch(runnable, rows(5), mode)
    assert emu.requests == []
    assert info.value.model == UNSERVED and UNSERVED in str(info.value)
    assert 'batch_api="auto"' in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, batch.BatchNotServedError)  # the core's error, too
    assert isinstance(info.value, LCInvalidArgumentsError)


def test_submit_batch_refuses_an_unserved_model_before_any_upload(
    emu: TogetherEmulator, make: Any
) -> None:
    with pytest.raises(BatchNotServedError):
        make(model=UNSERVED, batch_api="off").submit_batch(rows(3))
    assert emu.requests == []


@pytest.mark.parametrize(
    ("kwargs", "allowed"),
    [
        ({"batch_api": "sometimes"}, "'off', 'auto' or 'on'"),
        ({"batch_api_min_inputs": 0}, "greater than or equal to 1"),
        ({"batch_timeout": -1}, "greater than 0"),
        ({"batch_api": "on", "streaming": True}, "cannot stream"),
    ],
)
def test_invalid_batch_settings_are_refused(kwargs: dict[str, Any], allowed: str) -> None:
    with pytest.raises(ValidationError, match=allowed):
        ChatTogether(model=MODEL, **kwargs)


def test_batch_store_takes_a_store_or_a_path(tmp_path: Path) -> None:
    by_path = ChatTogether(model=MODEL, batch_store=tmp_path / "runs")
    assert isinstance(by_path.batch_store, DirectoryStore)
    assert by_path.batch_store.path == tmp_path / "runs"
    memory = MemoryStore()
    assert ChatTogether(model=MODEL, batch_store=memory).batch_store is memory
    with pytest.raises(ValidationError, match="BatchStore"):
        ChatTogether(model=MODEL, batch_store=42)


# --------------------------------------------------------- chains, tools, schemas


class Capital(BaseModel):
    country: str
    city: str


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


def _chain(llm: ChatTogether) -> Any:
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{q}")])
    return prompt | llm | StrOutputParser()


def _calls(message: AIMessage) -> list[tuple[str, dict[str, Any]]]:
    return [(c["name"], c["args"]) for c in message.tool_calls]


@pytest.mark.parametrize(
    ("build", "inputs", "parsed"),
    [
        pytest.param(_chain, [{"q": f"row {i}"} for i in range(4)], lambda x: x, id="chain"),
        pytest.param(
            lambda llm: llm.with_structured_output(Capital),
            rows(4),
            lambda x: x,
            id="structured-json-schema",
        ),
        pytest.param(
            lambda llm: llm.with_structured_output(Capital, method="function_calling"),
            rows(4),
            lambda x: x,
            id="structured-function-calling",
        ),
        pytest.param(
            lambda llm: llm.with_structured_output(Capital, include_raw=True),
            rows(4),
            lambda x: (x["parsed"], x["parsing_error"], x["raw"].content),
            id="structured-include-raw",
        ),
        pytest.param(
            lambda llm: llm.bind_tools([get_weather], tool_choice="get_weather"),
            rows(4),
            _calls,
            id="tools",
        ),
        pytest.param(
            lambda llm: llm.bind(response_format=Capital),
            rows(4),
            lambda m: m.additional_kwargs["parsed"],
            id="response-format-class",
        ),
    ],
)
def test_runnables_over_the_model_take_the_batch_path_and_answer_as_online(
    emu: TogetherEmulator, make: Any, mode: str, build: Any, inputs: list[Any], parsed: Any
) -> None:
    online = run_batch(build(make(batch_api="off")), inputs, mode)
    online_bodies = [r.json for r in emu.requests if r.path == CHAT]
    assert len(online_bodies) == len(inputs)
    emu.reset()
    batched = run_batch(build(make(batch_api="on")), inputs, mode)
    assert count(emu, "POST", BATCHES) == 1 and count(emu, "POST", CHAT) == 0
    assert [parsed(x) for x in batched] == [parsed(x) for x in online]
    # The bound tools / response_format / prompt reached the batch lines unchanged.
    strip = [{k: v for k, v in b.items() if k != "stream"} for b in online_bodies]
    key = lambda body: json.dumps(body["messages"])  # noqa: E731 - online order is not fixed
    assert sorted(job_bodies(emu), key=key) == sorted(strip, key=key)


def _comparable(message: AIMessage) -> dict[str, Any]:
    """A message without what differs between any two answers (ids, seed) or marks the
    batch (its ids)."""
    dump = message.model_dump()
    dump.pop("id")
    metadata = dump["response_metadata"]
    for key in ("id", "seed", "batch_id", "batch_run_id"):
        metadata.pop(key, None)
    for call in dump["tool_calls"]:
        call.pop("id")
    if isinstance(dump["content"], list):  # output_version="v1": the calls are blocks too
        for block in dump["content"]:
            if block.get("type") == "tool_call":
                block.pop("id")
    return dump


@pytest.mark.parametrize("output_version", ["v0", "v1"])
def test_reasoning_tool_calls_usage_and_metadata_come_back_as_online(
    emu: TogetherEmulator, make: Any, mode: str, output_version: str
) -> None:
    def script() -> None:
        emu.reply(
            "It is sunny.",
            reasoning="Check the weather first.",
            tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}],
            times=None,
        )

    script()
    online = run_batch(make(batch_api="off", output_version=output_version), rows(2), mode)
    emu.reset()
    script()
    batched = run_batch(make(output_version=output_version), rows(2), mode)
    assert [_comparable(m) for m in batched] == [_comparable(m) for m in online]
    assert batched[0].additional_kwargs["reasoning_content"] == "Check the weather first."
    assert _calls(batched[1]) == [("get_weather", {"city": "Paris"})]
    (job,) = emu.batches
    assert {m.response_metadata["batch_id"] for m in batched} == {job.id}
    # submit_batch on the same inputs finds the same run; its results() read the same way.
    run = make(output_version=output_version).submit_batch(rows(2))
    assert [_comparable(m) for m in call(run, "results", mode)] == [_comparable(m) for m in online]
    assert count(emu, "POST", BATCHES) == 1


# ------------------------------------------------------------------ failures


def test_failed_inputs_with_return_exceptions_are_typed_errors_in_place(
    emu: TogetherEmulator, make: Any, mode: str
) -> None:
    llm = make(batch_online_fallback=0)  # a follow-up job, which fails again
    inputs = rows(12)
    ids = custom_ids(llm, inputs)
    # Input 3 fails in the first job and in the follow-up (a retryable server error);
    # input 8 fails for good (a 400 the model server sends).
    emu.batches.script(fail_items={ids[3]: "upstream boom", f"{ids[3]}-r1": "upstream boom"})
    emu.batches.script(fail_items={f"{ids[3]}-r1": "upstream boom"})
    emu.fail(
        "status",
        status=400,
        message="row 8 is malformed",
        when=lambda body: (body.get("messages") or [{}])[-1].get("content") == "row 8",
    )
    out = run_batch(llm, inputs, mode, return_exceptions=True)
    assert count(emu, "POST", BATCHES) == 2  # the first job and one follow-up for input 3
    for index in (3, 8):
        error = out[index]
        assert isinstance(error, TogetherBatchItemError) and isinstance(error, ModelError)
        assert error.index == index
    assert out[3].message == "upstream boom" and out[3].code == "server_error"
    assert out[3].retryable and out[3].is_retryable
    assert "row 8 is malformed" in out[8].message and not out[8].is_retryable
    copy = pickle.loads(pickle.dumps(out[3]))
    assert type(copy) is TogetherBatchItemError and copy == out[3] and copy.is_retryable
    assert out[3].batch_id == list(emu.batches)[1].id
    assert [m.content for i, m in enumerate(out) if i not in (3, 8)] == [
        f"You said: row {i}" for i in range(12) if i not in (3, 8)
    ]


def test_a_few_retryable_leftovers_go_online_once_and_a_rerun_sends_nothing(
    emu: TogetherEmulator, make: Any, mode: str
) -> None:
    llm = make()  # batch_online_fallback: 20 by default
    inputs = rows(30)
    ids = custom_ids(llm, inputs)
    emu.batches.script(fail_items={ids[4]: "upstream boom", ids[17]: "upstream boom"})
    out = run_batch(llm, inputs, mode)
    assert count(emu, "POST", BATCHES) == 1  # no follow-up job: hours saved
    assert count(emu, "POST", CHAT) == 2  # the two leftovers, online, once each
    assert [m.content for m in out] == [f"You said: row {i}" for i in range(30)]
    assert out[4].response_metadata["batch_id"] is None  # answered online
    assert out[5].response_metadata["batch_id"] == next(iter(emu.batches)).id
    again = run_batch(llm, inputs, mode)  # the stored run, online answers included
    assert [m.content for m in again] == [m.content for m in out]
    assert count(emu, "POST", CHAT) == 2 and count(emu, "POST", BATCHES) == 1


def test_without_return_exceptions_one_error_carries_every_result(
    emu: TogetherEmulator, make: Any, mode: str
) -> None:
    llm = make(batch_online_fallback=0)  # a follow-up job, which fails again
    inputs = rows(6)
    ids = custom_ids(llm, inputs)
    emu.batches.script(fail_items={ids[2]: "boom"})
    emu.batches.script(fail_items={f"{ids[2]}-r1": "boom again"})
    with pytest.raises(TogetherBatchResultsError) as info:
        run_batch(llm, inputs, mode)
    err = info.value
    assert isinstance(err, ModelError)
    assert list(err.errors) == [2] and err.results[2] is err.errors[2]
    assert isinstance(err.errors[2], TogetherBatchItemError)
    assert err.errors[2].message == "boom again"
    assert [m.content for i, m in enumerate(err.results) if i != 2] == [
        f"You said: row {i}" for i in (0, 1, 3, 4, 5)
    ]
    assert err.run_id is not None


def test_a_chain_keeps_a_failed_input_in_place(emu: TogetherEmulator, make: Any, mode: str) -> None:
    llm = make()
    emu.fail(
        "status",
        status=400,
        message="row 1 is malformed",
        when=lambda body: "row 1" in json.dumps(body.get("messages")),
    )
    out = run_batch(_chain(llm), [{"q": q} for q in rows(3)], mode, return_exceptions=True)
    assert out[0] == "You said: row 0" and out[2] == "You said: row 2"
    assert isinstance(out[1], TogetherBatchItemError) and "malformed" in out[1].message
    assert count(emu, "POST", BATCHES) == 1


def test_as_completed_without_return_exceptions_yields_the_successes_then_raises(
    emu: TogetherEmulator, make: Any, mode: str
) -> None:
    llm = make(batch_online_fallback=0)  # a follow-up job, which fails again
    inputs = rows(5)
    ids = custom_ids(llm, inputs)
    emu.batches.script(fail_items={ids[1]: "boom"})
    emu.batches.script(fail_items={f"{ids[1]}-r1": "boom"})
    seen: list[int] = []

    async def drain_async() -> None:
        async for index, _ in llm.abatch_as_completed(inputs):
            seen.append(index)

    with pytest.raises(TogetherBatchResultsError) as info:
        if mode == "sync":
            for index, _ in llm.batch_as_completed(inputs):
                seen.append(index)
        else:
            asyncio.run(drain_async())
    assert sorted(seen) == [0, 2, 3, 4] and list(info.value.errors) == [1]


def test_a_job_that_fails_as_a_whole_gives_each_input_the_jobs_reason(
    emu: TogetherEmulator, make: Any, mode: str
) -> None:
    emu.batches.script(outcome="failed", error="Model not available for batch")
    out = run_batch(make(), rows(3), mode, return_exceptions=True)
    assert all(isinstance(e, TogetherBatchJobFailedError) for e in out)
    assert all(isinstance(e, TogetherBatchItemError) for e in out)
    assert out[0].reason == "Model not available for batch"


# ----------------------------------------------------------- callbacks and cache


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.starts: list[dict[str, Any]] = []
        self.ends: list[Any] = []
        self.errors: list[BaseException] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        with self.lock:
            self.starts.append(kwargs)

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        with self.lock:
            self.ends.append(response)

    def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        with self.lock:
            self.errors.append(error)


def test_callbacks_fire_once_per_input_with_the_batch_id(
    emu: TogetherEmulator, make: Any, mode: str
) -> None:
    llm = make(tags=["mine"], batch_online_fallback=0)
    inputs = rows(8)
    ids = custom_ids(llm, inputs)
    emu.batches.script(fail_items={ids[5]: "boom"})
    emu.batches.script(fail_items={f"{ids[5]}-r1": "boom"})
    recorder = Recorder()
    config = {"callbacks": [recorder], "metadata": {"user": "u1"}, "tags": ["outer"]}
    out = run_batch(llm, inputs, mode, config=config, return_exceptions=True)
    first_job = next(iter(emu.batches))
    assert len(recorder.starts) == 8 and len(recorder.ends) == 7 and len(recorder.errors) == 1
    assert recorder.errors[0] is out[5]
    for start in recorder.starts:
        assert start["metadata"]["together_batch_id"] == first_job.id
        assert start["metadata"]["user"] == "u1"
        assert start["metadata"]["ls_model_name"] == MODEL
        assert {"together-batch", "mine", "outer"} <= set(start["tags"])
    texts = sorted(end.generations[0][0].message.content for end in recorder.ends)
    assert texts == sorted(f"You said: row {i}" for i in range(8) if i != 5)


def test_the_cache_is_read_first_and_filled_at_the_end(
    emu: TogetherEmulator, make: Any, mode: str
) -> None:
    cache = InMemoryCache()
    online = make(batch_api="off", cache=cache)
    for text in rows(4):
        online.invoke(text)
    emu.reset()
    recorder = Recorder()
    llm = make(cache=cache)
    out = run_batch(llm, rows(10), mode, config={"callbacks": [recorder]})
    assert [m.content for m in out] == [f"You said: row {i}" for i in range(10)]
    assert [line["messages"][-1]["content"] for line in job_bodies(emu)] == rows(10)[4:]
    assert len(recorder.starts) == 10 and len(recorder.ends) == 10
    batched_starts = [s for s in recorder.starts if "together_batch_id" in s["metadata"]]
    assert len(batched_starts) == 6
    emu.reset()
    again = run_batch(llm, rows(10), mode)  # every input is a hit now
    assert emu.requests == [] and [m.content for m in again] == [m.content for m in out]


# ------------------------------------------------------- resuming and the run API


def test_the_same_batch_again_finds_its_run_and_creates_no_new_job(
    emu: TogetherEmulator, make: Any, mode: str
) -> None:
    emu.batches.script(duration=7200)
    with pytest.raises(TogetherBatchTimeoutError) as info:
        run_batch(make(batch_timeout=600), rows(20), mode)
    assert count(emu, "POST", BATCHES) == 1 and count(emu, "POST", "/v1/files") == 1
    assert info.value.run_id in str(info.value)
    out = run_batch(make(), rows(20), mode)  # "after the crash": a fresh model, same store
    assert [m.content for m in out] == [f"You said: row {i}" for i in range(20)]
    again = run_batch(make(), rows(20), mode)
    assert [m.content for m in again] == [m.content for m in out]
    assert count(emu, "POST", BATCHES) == 1 and count(emu, "POST", "/v1/files") == 1
    assert out[0].response_metadata["batch_run_id"] == info.value.run_id


def test_a_timeout_reports_an_error_to_every_waiting_input(
    emu: TogetherEmulator, make: Any, mode: str
) -> None:
    emu.batches.script(duration=7200)
    recorder = Recorder()
    with pytest.raises(TogetherBatchTimeoutError):
        run_batch(make(batch_timeout=60), rows(4), mode, config={"callbacks": [recorder]})
    assert len(recorder.starts) == 4 and len(recorder.errors) == 4 and recorder.ends == []


def test_submit_batch_returns_once_the_job_exists_and_loads_elsewhere(
    emu: TogetherEmulator, make: Any, store: DirectoryStore, clock: VirtualClock, mode: str
) -> None:
    emu.batches.script(duration=3600)
    llm = make(batch_api="off")  # submit_batch is explicit: batch_api does not matter
    bound = llm.bind_tools([get_weather])
    if mode == "sync":
        run = llm.submit_batch(rows(30), stop=["never"], **bound.kwargs)
    else:
        run = asyncio.run(llm.asubmit_batch(rows(30), stop=["never"], **bound.kwargs))
    assert (
        count(emu, "POST", BATCHES) == 1 and count(emu, "GET", f"{BATCHES}/{run.batch_ids[0]}") == 0
    )
    first = job_bodies(emu)[0]
    assert first["stop"] == ["never"] and first["tools"][0]["function"]["name"] == "get_weather"
    status = call(run, "status", mode)
    assert not status.finished and status.batch_ids == run.batch_ids
    # Another process: only the run id, the store and a model with the same settings.
    other = ChatTogether(model=MODEL, transport=emu.transport(max_retries=0))
    loaded = TogetherBatchRun.load(run.run_id, llm=other, store=store, clock=clock)
    seen: list[float | None] = []
    call(loaded, "wait", mode, on_progress=lambda s: seen.append(s.progress_fraction))
    assert seen and seen[-1] == 1.0
    out = call(loaded, "results", mode)
    assert [m.content for m in out] == [f"You said: row {i}" for i in range(30)]
    assert out[0].response_metadata["batch_id"] == run.batch_ids[0]
    assert out[0].response_metadata["model_name"] == MODEL
    assert count(emu, "POST", BATCHES) == 1


def test_a_cancelled_run_resolves_to_retryable_errors(
    emu: TogetherEmulator, make: Any, mode: str
) -> None:
    emu.batches.script(duration=3600)
    run = make().submit_batch(rows(4))
    call(run, "cancel", mode)
    out = call(run, "results", mode, return_exceptions=True)
    assert all(isinstance(e, TogetherBatchItemError) and e.is_retryable for e in out)
    assert {e.code for e in out} == {"batch_cancelled"}
    assert count(emu, "POST", BATCHES) == 1


def test_under_astream_events_the_answers_arrive_as_stream_events(
    emu: TogetherEmulator, make: Any
) -> None:
    from langchain_core.runnables import RunnableConfig, RunnableLambda

    emu.reply(
        "Sunny.",
        tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}],
        times=None,
    )
    llm = make()

    async def node(value: str, config: RunnableConfig) -> list[Any]:
        return await llm.abatch(rows(3), config)

    async def collect() -> list[Any]:
        return [event async for event in RunnableLambda(node).astream_events("x", version="v2")]

    events = asyncio.run(collect())
    kinds = [e["event"] for e in events]
    assert kinds.count("on_chat_model_start") == 3 and kinds.count("on_chat_model_end") == 3
    assert kinds.count("on_chat_model_stream") == 3
    ends = [e["data"]["output"] for e in events if e["event"] == "on_chat_model_end"]
    assert all(m.content == "Sunny." for m in ends)
    assert all(_calls(m) == [("get_weather", {"city": "Paris"})] for m in ends)
    assert count(emu, "POST", BATCHES) == 1 and count(emu, "POST", CHAT) == 0


def test_a_rate_limiter_throttles_online_requests_not_the_batch(
    emu: TogetherEmulator, make: Any, mode: str
) -> None:
    from langchain_core.rate_limiters import BaseRateLimiter

    class Counting(BaseRateLimiter):
        def __init__(self) -> None:
            self.taken = 0

        def acquire(self, *, blocking: bool = True) -> bool:
            self.taken += 1
            return True

        async def aacquire(self, *, blocking: bool = True) -> bool:
            self.taken += 1
            return True

    limiter = Counting()
    run_batch(make(rate_limiter=limiter), rows(5), mode)
    assert limiter.taken == 0 and count(emu, "POST", BATCHES) == 1
    run_batch(make(rate_limiter=limiter, batch_api="off"), rows(5), mode)
    assert limiter.taken == 5


def test_headers_the_batch_requests_cannot_carry_are_warned_about(
    emu: TogetherEmulator, make: Any
) -> None:
    llm = make(default_headers={"X-Team": "search"})
    with pytest.warns(UserWarning, match="headers"):
        out = llm.batch(rows(2))
    assert [m.content for m in out] == ["You said: row 0", "You said: row 1"]


@pytest.mark.parametrize("return_exceptions", [False, True])
def test_invalid_arguments_fail_before_any_upload(
    emu: TogetherEmulator, make: Any, mode: str, return_exceptions: bool
) -> None:
    from together_integrations.langchain._errors import LCInvalidArgumentsError

    llm = make()
    if return_exceptions:
        out = run_batch(llm, rows(3), mode, return_exceptions=True, temperature="hot")
        assert all(isinstance(e, LCInvalidArgumentsError) for e in out)
    else:
        with pytest.raises(LCInvalidArgumentsError, match="temperature"):
            run_batch(llm, rows(3), mode, temperature="hot")
    assert emu.requests == []


def test_as_completed_yields_cache_hits_before_the_batch_is_waited_for(
    emu: TogetherEmulator, make: Any, mode: str
) -> None:
    cache = InMemoryCache()
    for text in rows(2):
        make(batch_api="off", cache=cache).invoke(text)
    emu.reset()
    llm = make(cache=cache)
    polls_at: list[tuple[int, int]] = []

    def polls() -> int:
        return sum(1 for r in emu.requests if r.method == "GET" and r.path.startswith(BATCHES))

    async def drain_async() -> None:
        async for index, _ in llm.abatch_as_completed(rows(5)):
            polls_at.append((index, polls()))

    if mode == "sync":
        for index, _ in llm.batch_as_completed(rows(5)):
            polls_at.append((index, polls()))
    else:
        asyncio.run(drain_async())
    assert polls_at[:2] == [(0, 0), (1, 0)]  # the hits, before the first look at the job
    assert sorted(i for i, _ in polls_at[2:]) == [2, 3, 4] and polls_at[-1][1] > 0

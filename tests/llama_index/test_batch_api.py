"""TogetherLLM.batch_chat / submit_batch on the in-process emulator and virtual time, over the
sync and async twins: request counts and order, bodies and responses equal to the online
ones (tool calls, reasoning, usage), per-item failures, resuming, loading, instrumentation
events, refusals, and the documented evaluation example (docs/batch-llama-index.md)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatResponse, ThinkingBlock, ToolCallBlock
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent, LLMChatStartEvent
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool
from llama_index_instrumentation import get_dispatcher

from together_integrations import TogetherConfigError, batch
from together_integrations.batch import (
    BatchEndpointError,
    BatchItemError,
    BatchResultsError,
    BatchRunNotFoundError,
    DirectoryStore,
    JobState,
    plan_batch,
)
from together_integrations.llama_index import (
    BatchNotServedError,
    TogetherLLM,
    TogetherLLMBatchRun,
)
from together_integrations.llama_index.batch import chat_bodies
from together_integrations.testing import TogetherEmulator, VirtualClock

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
BATCHES = "/v1/batches"
DOC = Path(__file__).resolve().parents[2] / "docs" / "batch-llama-index.md"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def emu(clock: VirtualClock) -> TogetherEmulator:
    return TogetherEmulator(clock=clock)


@pytest.fixture
def store(tmp_path: Path) -> DirectoryStore:
    return DirectoryStore(tmp_path / "runs")


def make_llm(emu: TogetherEmulator, model: str = MODEL, **kwargs: Any) -> TogetherLLM:
    return TogetherLLM(model=model, transport=emu.transport(max_retries=0), **kwargs)


def questions(n: int, prefix: str = "row") -> list[list[ChatMessage]]:
    return [[ChatMessage(role="user", content=f"{prefix} {i}")] for i in range(n)]


def count(emu: TogetherEmulator, method: str, path: str) -> int:
    return sum(1 for r in emu.requests if r.method == method and r.path == path)


def batch_chat(llm: TogetherLLM, mode: str, inputs: Any, **kwargs: Any) -> Any:
    if mode == "sync":
        return llm.batch_chat(inputs, **kwargs)
    return asyncio.run(llm.abatch_chat(inputs, **kwargs))


def drive(run: TogetherLLMBatchRun, mode: str, operation: str, **kwargs: Any) -> Any:
    if mode == "sync":
        return getattr(run, operation)(**kwargs)
    twin = {"wait": "await_until_done"}.get(operation, "a" + operation)
    return asyncio.run(getattr(run, twin)(**kwargs))


def input_lines(emu: TogetherEmulator) -> list[dict[str, Any]]:
    """The lines of every batch input file the emulator received, in file order."""
    lines: list[dict[str, Any]] = []
    for job in emu.batches:
        stored = emu.files.get(job.input_file_id)
        assert stored is not None and stored.data is not None
        lines.extend(json.loads(line) for line in stored.data.splitlines())
    return lines


class Recorder(BaseEventHandler):
    events: list[Any] = []

    @classmethod
    def class_name(cls) -> str:
        return "BatchRecorder"

    def handle(self, event: Any, **kwargs: Any) -> None:
        if isinstance(event, LLMChatStartEvent | LLMChatEndEvent):
            self.events.append(event)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    handler = Recorder()
    handler.events = []
    root = get_dispatcher()
    root.add_event_handler(handler)
    try:
        yield handler
    finally:
        root.event_handlers.remove(handler)


def test_1000_inputs_take_fewer_than_10_requests_and_come_back_in_input_order(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    # A 65 s job: the poller (30 s, then x1.5 with 10 % jitter) looks 3 times, whatever
    # the jitter draws: upload (3 requests) + create + 3 looks + the output file = 8.
    emu.batches.script(duration=60, validating=5)
    llm = make_llm(emu)
    responses = batch_chat(llm, mode, questions(1000), store=store, clock=clock)
    assert len(emu.requests) < 10, [(r.method, r.path) for r in emu.requests]
    assert [r.message.content for r in responses] == [f"You said: row {i}" for i in range(1000)]
    (job,) = emu.batches
    assert all(isinstance(r, ChatResponse) for r in responses)
    assert {r.additional_kwargs["batch_id"] for r in responses} == {job.id}
    assert all(r.additional_kwargs["total_tokens"] > 0 for r in responses)


def test_each_line_is_the_body_the_online_chat_sends(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore
) -> None:
    llm = make_llm(emu, temperature=0.2, max_tokens=64, additional_kwargs={"top_p": 0.9})
    inputs = [
        [
            ChatMessage(role="system", content="Answer in one word."),
            ChatMessage(role="user", content="Capital of France?"),
        ],
        [ChatMessage(role="user", content="Capital of Italy?")],
    ]
    fmt = {"type": "json_object"}
    llm.batch_chat(inputs, store=store, clock=clock, response_format=fmt, seed=7)
    sent = [line["body"] for line in input_lines(emu)]
    for messages in inputs:
        llm.chat(messages, response_format=fmt, seed=7)
    online = [r.json for r in emu.requests if r.path == "/v1/chat/completions"]
    assert [{k: v for k, v in body.items() if k != "stream"} for body in online] == sent
    assert all(body["stream"] is False for body in online)  # the only field a batch drops


def batch_with_tools(llm: TogetherLLM, mode: str, tools: Any, inputs: Any, **kwargs: Any) -> Any:
    if mode == "sync":
        return llm.batch_chat_with_tools(tools, inputs, **kwargs)
    return asyncio.run(llm.abatch_chat_with_tools(tools, inputs, **kwargs))


def test_tool_calls_and_reasoning_through_a_batch_equal_the_online_response(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    tool = FunctionTool.from_defaults(fn=add)
    emu.reply(
        reasoning="the user wants a sum",
        tool_calls=[
            {"name": "add", "arguments": {"a": 2, "b": 3}, "id": "call_1"},
            {"name": "add", "arguments": {"a": 3, "b": 2}, "id": "call_2"},
        ],
        usage={"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39},
        times=None,
    )
    llm = make_llm(emu, model="openai/gpt-oss-20b")
    messages = [ChatMessage(role="user", content="What is 2 + 3?")]
    online = llm.chat_with_tools([tool], chat_history=messages, tool_required=True)
    (batched,) = batch_with_tools(
        llm, mode, [tool], [messages], tool_required=True, store=store, clock=clock
    )
    # The same request fields as plain batch_chat kwargs: the same body, unchecked calls.
    (raw,) = batch_chat(
        llm,
        mode,
        [messages],
        store=store,
        clock=clock,
        max_tokens=None,  # None means unset, as online: the same body, so the same run
        tools=[tool.metadata.to_openai_tool(skip_length_check=True)],
        tool_choice="required",
        parallel_tool_calls=False,
    )
    online_body = next(r.json for r in emu.requests if r.path == "/v1/chat/completions")
    assert [line["body"] for line in input_lines(emu)] == [
        {k: v for k, v in online_body.items() if k != "stream"}
    ]
    assert count(emu, "POST", BATCHES) == 1  # the second call found the first run
    assert batched.message == online.message
    calls = [b for b in batched.message.blocks if isinstance(b, ToolCallBlock)]
    thinking = [b for b in batched.message.blocks if isinstance(b, ThinkingBlock)]
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("add", {"a": 2, "b": 3})]
    assert len([b for b in raw.message.blocks if isinstance(b, ToolCallBlock)]) == 2
    assert thinking[0].content == "the user wants a sum"
    selections = llm.get_tool_calls_from_response(batched)
    assert [(s.tool_id, s.tool_kwargs) for s in selections] == [("call_1", {"a": 2, "b": 3})]
    (job,) = emu.batches
    assert batched.additional_kwargs == {**online.additional_kwargs, "batch_id": job.id}
    assert batched.raw["usage"] == online.raw["usage"] and batched.raw.usage.total_tokens == 39
    # the whole raw body too, but for what differs between any two answers (ids, seeds)
    assert [{k: v for k, v in c.items() if k != "seed"} for c in batched.raw["choices"]] == [
        {k: v for k, v in c.items() if k != "seed"} for c in online.raw["choices"]
    ]


def test_think_tags_are_split_out_as_online(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore
) -> None:
    emu.reply("<think>count the letters</think>3", times=None)
    llm = make_llm(emu, model="Qwen/QwQ-32B")
    messages = [ChatMessage(role="user", content="How many r in strawberry?")]
    (batched,) = llm.batch_chat([messages], store=store, clock=clock)
    online = llm.chat(messages)
    assert batched.message == online.message and batched.message.content == "3"
    assert [b.content for b in batched.message.blocks if isinstance(b, ThinkingBlock)] == [
        "count the letters"
    ]


@pytest.mark.parametrize("return_exceptions", [True, False])
def test_per_item_failures_keep_the_server_message(
    emu: TogetherEmulator,
    clock: VirtualClock,
    store: DirectoryStore,
    mode: str,
    return_exceptions: bool,
) -> None:
    llm = make_llm(emu)
    inputs = questions(10)
    ids = plan_batch(chat_bodies(llm, inputs, {})).custom_ids
    emu.batches.script(fail_items={ids[3]: "upstream timeout", ids[7]: "model crashed"})
    kwargs: dict[str, Any] = {"store": store, "clock": clock, "retry": False}
    if return_exceptions:
        results = batch_chat(llm, mode, inputs, return_exceptions=True, **kwargs)
    else:
        with pytest.raises(BatchResultsError) as info:
            batch_chat(llm, mode, inputs, **kwargs)
        results = info.value.results
        assert sorted(info.value.errors) == [3, 7]
        assert "2 of 10 batch inputs failed" in str(info.value)
    (job,) = emu.batches
    errors = {i: r for i, r in enumerate(results) if isinstance(r, BatchItemError)}
    assert sorted(errors) == [3, 7]
    assert (errors[3].message, errors[7].message) == ("upstream timeout", "model crashed")
    assert all(e.batch_id == job.id and e.code == "server_error" for e in errors.values())
    assert [r.message.content for i, r in enumerate(results) if i not in errors] == [
        f"You said: row {i}" for i in (0, 1, 2, 4, 5, 6, 8, 9)
    ]
    assert count(emu, "POST", BATCHES) == 1


def test_a_retried_item_carries_the_batch_id_that_answered_it(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore
) -> None:
    llm = make_llm(emu, batch_online_fallback=0)  # retries in a follow-up job
    inputs = questions(4)
    ids = plan_batch(chat_bodies(llm, inputs, {})).custom_ids
    emu.batches.script(fail_items={ids[2]: "upstream timeout"})
    responses = llm.batch_chat(inputs, store=store, clock=clock)
    first, follow_up = list(emu.batches)
    assert [r.additional_kwargs["batch_id"] for r in responses] == [
        first.id,
        first.id,
        follow_up.id,
        first.id,
    ]
    assert responses[2].message.content == "You said: row 2"


def test_a_few_retryable_leftovers_go_online_once(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    llm = make_llm(emu)  # batch_online_fallback: 20 by default
    inputs = questions(8)
    ids = plan_batch(chat_bodies(llm, inputs, {})).custom_ids
    emu.batches.script(fail_items={ids[2]: "upstream timeout"})
    responses = batch_chat(llm, mode, inputs, store=store, clock=clock)
    assert count(emu, "POST", BATCHES) == 1 and count(emu, "POST", "/v1/chat/completions") == 1
    assert [r.message.content for r in responses] == [f"You said: row {i}" for i in range(8)]
    (job,) = list(emu.batches)
    assert [r.additional_kwargs["batch_id"] for r in responses] == [
        None if i == 2 else job.id for i in range(8)
    ]
    batch_chat(make_llm(emu), mode, inputs, store=store, clock=clock)  # resumed: nothing sent
    assert count(emu, "POST", "/v1/chat/completions") == 1


def test_the_same_inputs_on_the_same_store_resume_without_a_second_create(
    emu: TogetherEmulator, clock: VirtualClock, tmp_path: Path, mode: str
) -> None:
    inputs = questions(6)
    first = batch_chat(
        make_llm(emu), mode, inputs, store=DirectoryStore(tmp_path / "runs"), clock=clock
    )
    before = len(emu.requests)
    again = batch_chat(
        make_llm(emu), mode, inputs, store=DirectoryStore(tmp_path / "runs"), clock=clock
    )
    resent = [(r.method, r.path) for r in emu.requests[before:]]
    assert count(emu, "POST", BATCHES) == 1 and all(m == "GET" for m, _ in resent)
    assert [r.message for r in again] == [r.message for r in first]
    assert [r.additional_kwargs for r in again] == [r.additional_kwargs for r in first]
    # Other inputs are another run.
    batch_chat(
        make_llm(emu), mode, questions(6, "other"), store=DirectoryStore(tmp_path), clock=clock
    )
    assert count(emu, "POST", BATCHES) == 2


def test_submit_returns_once_created_and_a_fresh_object_loads_the_run(
    emu: TogetherEmulator, clock: VirtualClock, tmp_path: Path, mode: str, recorder: Recorder
) -> None:
    emu.batches.script(duration=600, validating=0)
    llm = make_llm(emu)
    if mode == "sync":
        run = llm.submit_batch(questions(5), store=DirectoryStore(tmp_path), clock=clock)
    else:
        run = asyncio.run(
            llm.asubmit_batch(questions(5), store=DirectoryStore(tmp_path), clock=clock)
        )
    (job,) = emu.batches
    assert run.batch_ids == [job.id] and count(emu, "POST", BATCHES) == 1
    assert [r.method for r in emu.requests].count("GET") == 0  # no wait in submit
    assert run.run_id in repr(run) and len(run) == 5

    other = TogetherLLMBatchRun.load(
        run.run_id, llm=make_llm(emu), store=DirectoryStore(tmp_path), clock=clock
    )
    status = drive(other, mode, "status")
    assert status.jobs[0].state is JobState.CREATED and not status.finished
    seen: list[float | None] = []
    done = drive(other, mode, "wait", on_progress=lambda s: seen.append(s.progress_fraction))
    assert done.finished and seen[-1] == 1.0 and any(0 < (f or 0) < 1 for f in seen)
    responses = drive(other, mode, "results")
    assert [r.message.content for r in responses] == [f"You said: row {i}" for i in range(5)]
    assert {r.additional_kwargs["batch_id"] for r in responses} == {job.id}
    assert count(emu, "POST", BATCHES) == 1
    # Each object dispatches its own pairs; the loaded one knows no prompts.
    starts = [e for e in recorder.events if isinstance(e, LLMChatStartEvent)]
    ends = [e for e in recorder.events if isinstance(e, LLMChatEndEvent)]
    assert len(starts) == 10 and len(ends) == 5
    assert [e.messages for e in starts[5:]] == [[]] * 5
    assert [e.response for e in ends] == responses

    with pytest.raises(TogetherConfigError, match="load it with a TogetherLLM"):
        TogetherLLMBatchRun.load(
            run.run_id, llm=make_llm(emu, "openai/gpt-oss-20b"), store=DirectoryStore(tmp_path)
        )
    with pytest.raises(BatchRunNotFoundError):
        TogetherLLMBatchRun.load("f" * 32, llm=llm, store=DirectoryStore(tmp_path))


def test_cancel_returns_what_finished_and_retryable_errors_for_the_rest(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore, mode: str
) -> None:
    emu.batches.script(duration=1000, validating=0)
    run = make_llm(emu).submit_batch(questions(10), store=store, clock=clock)
    clock.advance(450)  # 4 of 10 lines done
    assert drive(run, mode, "cancel").finished
    results = drive(run, mode, "results", return_exceptions=True)
    done = [r for r in results if isinstance(r, ChatResponse)]
    assert len(done) == 4 and all(r.message.content.startswith("You said") for r in done)
    assert all(r.retryable and r.code == "batch_cancelled" for r in results if r not in done)


def test_one_event_pair_per_item_tagged_with_its_batch(
    emu: TogetherEmulator,
    clock: VirtualClock,
    store: DirectoryStore,
    mode: str,
    recorder: Recorder,
) -> None:
    counter = TokenCountingHandler()
    llm = make_llm(emu, callback_manager=CallbackManager([counter]))
    inputs = questions(6)
    ids = plan_batch(chat_bodies(llm, inputs, {})).custom_ids
    emu.batches.script(fail_items={ids[4]: "model crashed"})
    results = batch_chat(
        llm, mode, inputs, store=store, clock=clock, retry=False, return_exceptions=True
    )
    starts = [e for e in recorder.events if isinstance(e, LLMChatStartEvent)]
    ends = [e for e in recorder.events if isinstance(e, LLMChatEndEvent)]
    (job,) = emu.batches
    assert len(starts) == len(ends) == 6
    assert recorder.events[:6] == starts  # every start (at creation) before any end
    assert [e.tags["batch_index"] for e in starts] == list(range(6))
    assert {e.tags["batch_id"] for e in starts + ends} == {job.id}
    assert [e.messages for e in starts] == inputs and starts[0].model_dict["model_name"] == MODEL
    assert [e.response for e in ends] == [
        r if isinstance(r, ChatResponse) else None for r in results
    ]
    assert ends[4].tags["batch_error"] == "model crashed"
    usage = [r.additional_kwargs for r in results if isinstance(r, ChatResponse)]
    assert counter.prompt_llm_token_count == sum(u["prompt_tokens"] for u in usage) > 0
    assert counter.completion_llm_token_count == sum(u["completion_tokens"] for u in usage)
    # A resumed call is a call (its own pairs); reading one run's results again is not.
    run = TogetherLLMBatchRun.create(llm, inputs, store=store, clock=clock)
    drive(run, mode, "results", return_exceptions=True)
    assert len(recorder.events) == 24
    drive(run, mode, "results", return_exceptions=True)
    assert len(recorder.events) == 24


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [("deepseek-ai/DeepSeek-R1", {}), (MODEL, {"model": "deepseek-ai/DeepSeek-V3.1"})],
)
def test_a_model_the_batch_api_does_not_serve_is_refused_before_upload(
    emu: TogetherEmulator,
    clock: VirtualClock,
    store: DirectoryStore,
    mode: str,
    model: str,
    kwargs: dict[str, Any],
) -> None:
    llm = make_llm(emu, model)
    with pytest.raises(BatchNotServedError, match="does not serve deepseek-ai") as info:
        batch_chat(llm, mode, questions(3), store=store, clock=clock, **kwargs)
    assert isinstance(info.value, TogetherConfigError) and info.value.model.startswith("deepseek")
    assert BatchNotServedError is batch.BatchNotServedError  # one class with the core
    assert emu.requests == [] and not store.run_keys()


def test_requests_a_batch_cannot_carry_are_refused_before_upload(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore
) -> None:
    llm = make_llm(emu)
    with pytest.raises(ValueError, match="drop stream"):
        llm.batch_chat(questions(2), store=store, stream=True)
    with pytest.raises(TypeError, match="Input 1 is a str"):
        llm.batch_chat([questions(1)[0], "hello"], store=store)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="list of inputs"):
        llm.batch_chat("hello", store=store)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one conversation per input"):
        llm.batch_chat_with_tools([], questions(1), chat_history=questions(1)[0], store=store)
    with pytest.raises(BatchEndpointError, match="/completions"):
        make_llm(emu, "mistralai/Mixtral-8x7B-v0.1").batch_chat(questions(1), store=store)
    with pytest.warns(UserWarning, match="do not carry this TogetherLLM's default_headers"):
        make_llm(emu, default_headers={"x-team": "a"}).batch_chat(
            questions(1), store=store, clock=clock
        )
    assert count(emu, "POST", BATCHES) == 1


def test_show_progress_without_tqdm_is_refused_before_upload(
    emu: TogetherEmulator, store: DirectoryStore, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match="pip install tqdm"):
        batch_chat(make_llm(emu), mode, questions(2), store=store, show_progress=True)
    assert emu.requests == []


def _documented_example() -> str:
    text = DOC.read_text()
    blocks = re.findall(r"<!-- tested -->\n```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/batch-llama-index.md marks one block as tested"
    return blocks[0]


def test_the_documented_judge_batch_matches_the_online_evaluator(
    emu: TogetherEmulator, clock: VirtualClock, store: DirectoryStore
) -> None:
    from llama_index.core.evaluation import CorrectnessEvaluator

    samples = [
        ("Capital of France?", "Paris.", "Paris"),
        ("2 + 2?", "5", "4"),
        ("Largest planet?", "Jupiter, by far.", "Jupiter"),
    ]
    verdicts = {"Paris.": "5.0\nExact.", "5": "1.0\nWrong sum.", "Jupiter, by far.": "4.5\nOk."}
    for answer, verdict in verdicts.items():
        emu.reply(
            verdict, when=lambda body, a=answer: a in body["messages"][-1]["content"], times=None
        )
    refused = ("Boiling point of water at sea level?", "100 C", "100 degrees Celsius")
    emu.fail(
        "status",
        status=400,
        message="Input validation error: prompt flagged",
        when=lambda body: refused[1] in str(body.get("messages")),
    )
    namespace: dict[str, Any] = {}
    exec(compile(_documented_example(), str(DOC), "exec"), namespace)
    judge = make_llm(emu)
    results = namespace["judge_correctness"](judge, [*samples, refused], store=store, clock=clock)
    assert count(emu, "POST", BATCHES) == 1  # one batch, no follow-up for a 400
    assert [(r.score, r.passing, r.feedback) for r in results[:3]] == [
        (5.0, True, "Exact."),
        (1.0, False, "Wrong sum."),
        (4.5, True, "Ok."),
    ]
    assert results[3].invalid_result and results[3].passing is None
    assert results[3].invalid_reason == "Input validation error: prompt flagged"
    # The online evaluator sends the same judge prompts and reaches the same verdicts.
    evaluator = CorrectnessEvaluator(llm=judge)
    online = [evaluator.evaluate(query=q, response=a, reference=ref) for q, a, ref in samples]
    assert [(r.score, r.passing, r.feedback) for r in online] == [
        (r.score, r.passing, r.feedback) for r in results[:3]
    ]
    sent_online = [r.json["messages"] for r in emu.requests if r.path == "/v1/chat/completions"]
    assert [line["body"]["messages"] for line in input_lines(emu)][:3] == sent_online

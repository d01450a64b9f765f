"""TogetherFinetuneEngine on the emulator with virtual time: from chat messages (tool calls
included), a JSONL file or a fine-tuning handler's events, to a TogetherLLM chatting with the
output model with its base model's capabilities; failure and cancel paths; no
``llama-index-finetuning`` needed."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock, ToolCallBlock
from llama_index.core.tools import FunctionTool

from together_integrations import (
    JobFailedError,
    TogetherConfigError,
    TrainingFileError,
    get_model_capabilities,
)
from together_integrations.fine_tuning import (
    NonServerlessModelError,
    TogetherDedicatedEndpoints,
    endpoint_hints,
)
from together_integrations.llama_index import TogetherFinetuneEngine, TogetherLLM
from together_integrations.testing import TogetherEmulator, VirtualClock

BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"


def weather(city: str) -> str:
    """The weather in a city."""
    return "sunny"


def conversations(n: int) -> list[list[ChatMessage]]:
    out = []
    for i in range(n):
        out.append(
            [
                ChatMessage(role=MessageRole.SYSTEM, content="You are a weather bot."),
                ChatMessage(role=MessageRole.USER, content=f"Weather in city {i}?"),
                ChatMessage(
                    role=MessageRole.ASSISTANT,
                    blocks=[
                        ToolCallBlock(
                            tool_call_id=f"call_{i}", tool_name="weather", tool_kwargs={"city": "x"}
                        )
                    ],
                ),
                ChatMessage(
                    role=MessageRole.TOOL,
                    content="sunny",
                    additional_kwargs={"tool_call_id": f"call_{i}"},
                ),
                ChatMessage(role=MessageRole.ASSISTANT, blocks=[TextBlock(text=f"Sunny in {i}.")]),
            ]
        )
    return out


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=1_800_000_000)


@pytest.fixture
def emu(clock: VirtualClock) -> TogetherEmulator:
    return TogetherEmulator(clock=clock)


def creates(emu: TogetherEmulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST" and r.path == "/v1/fine-tunes"]


def test_the_deprecated_package_is_not_needed() -> None:
    assert "llama_index.finetuning" not in sys.modules


def test_from_chat_messages_through_the_whole_lifecycle(
    emu: TogetherEmulator, clock: VirtualClock, tmp_path: Path
) -> None:
    emu.fine_tunes.script(duration=4 * 3600)
    path = tmp_path / "train.jsonl"
    engine = TogetherFinetuneEngine.from_chat_messages(
        conversations(6),
        BASE,
        path,
        tools=[FunctionTool.from_defaults(weather)],
        transport=emu.transport(),
        clock=clock,
        n_epochs=2,
        suffix="weather",
    )
    sample = json.loads(path.read_text().splitlines()[0])
    assert [m["role"] for m in sample["messages"]] == [
        "system", "user", "assistant", "tool", "assistant",
    ]  # fmt: skip
    assert sample["messages"][2]["tool_calls"][0]["function"]["name"] == "weather"
    assert sample["messages"][3]["tool_call_id"] == "call_0"
    assert sample["tools"][0]["function"]["name"] == "weather"
    with pytest.raises(TogetherConfigError, match=r"call finetune\(\) first"):
        engine.get_current_job()
    engine.finetune()
    job_id = engine.job_id
    engine.finetune()  # a current job: never a second paid create
    creates = [r for r in emu.requests if r.method == "POST" and r.path == "/v1/fine-tunes"]
    assert len(creates) == 1 and creates[0].body["n_epochs"] == 2
    assert engine.get_current_job().status == "pending"
    with pytest.raises(TogetherConfigError, match="not completed"):
        engine.get_finetuned_model()
    started = clock.now()
    done = engine.wait()
    assert clock.now() - started >= 4 * 3600 and done.id == job_id
    kinds = [e.type for e in engine.fine_tuning.events(done)]
    assert kinds[0] == "job_pending" and kinds[-1] == "job_complete"
    llm = engine.get_finetuned_model(temperature=0)
    assert isinstance(llm, TogetherLLM) and llm.model == done.model_output_name
    base = get_model_capabilities(BASE)
    assert llm.metadata.context_window == base.context_window
    assert llm.metadata.is_function_calling_model == base.tool_calling
    emu.reply(text="It is sunny.")
    assert llm.chat([ChatMessage(role="user", content="Weather?")]).message.content == (
        "It is sunny."
    )
    assert emu.requests[-1].body["model"] == done.model_output_name
    assert "emulator-key" not in repr(engine)


def test_from_a_jsonl_file_async_and_resume_by_id(
    emu: TogetherEmulator, clock: VirtualClock, tmp_path: Path
) -> None:
    path = tmp_path / "instr.jsonl"
    path.write_text(
        "".join(json.dumps({"prompt": f"q{i}", "completion": "a"}) + "\n" for i in range(4))
    )
    transport = emu.transport()

    async def run() -> str:
        engine = TogetherFinetuneEngine(BASE, path, transport=transport, clock=clock)
        await engine.afinetune()
        assert (await engine.aget_current_job()).status == "pending"
        await engine.await_until_done(poll_interval=120)
        assert engine.job_id
        return engine.job_id

    job_id = asyncio.run(run())
    resumed = TogetherFinetuneEngine(BASE, path, start_job_id=job_id, transport=transport)
    resumed.finetune()  # resumes: nothing sent
    assert len(creates(emu)) == 1
    llm = TogetherLLM.from_fine_tune(job_id, transport=transport)
    assert llm.model == resumed.get_finetuned_model().model


def test_from_a_finetuning_handler(emu: TogetherEmulator, tmp_path: Path) -> None:
    class Handler:  # the shape of llama-index-finetuning's handlers
        def get_finetuning_events(self) -> dict[str, dict[str, Any]]:
            return {
                "e1": {
                    "messages": [ChatMessage(role="user", content="hi")],
                    "response": ChatMessage(role="assistant", content="hello"),
                }
            }

    engine = TogetherFinetuneEngine.from_finetuning_handler(
        Handler(), BASE, tmp_path / "h.jsonl", transport=emu.transport()
    )
    line = json.loads((tmp_path / "h.jsonl").read_text())
    assert line == {"messages": [{"role": "user", "content": "hi"},
                                 {"role": "assistant", "content": "hello"}]}  # fmt: skip
    engine.finetune()
    assert engine.job_id and engine.job_id.startswith("ft-")


def test_a_bad_file_names_the_line_and_nothing_is_sent(
    emu: TogetherEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "q", "completion": "a"}\n{"prompt": "q"}\n')
    engine = TogetherFinetuneEngine(BASE, path, transport=emu.transport())
    with pytest.raises(TrainingFileError, match="line 2: no known format"):
        engine.finetune()
    assert emu.requests == [] and engine.job_id is None
    with pytest.raises(TrainingFileError, match="line 1: 'messages' has no assistant message"):
        TogetherFinetuneEngine.from_chat_messages(
            [[ChatMessage(role="user", content="q")]], BASE, tmp_path / "c.jsonl"
        )


def test_a_failed_job_raises_at_once_with_its_reason(
    emu: TogetherEmulator, clock: VirtualClock, tmp_path: Path
) -> None:
    emu.fine_tunes.script(outcome="error", error="Loss became NaN")
    engine = TogetherFinetuneEngine.from_chat_messages(
        conversations(2), BASE, tmp_path / "t.jsonl", transport=emu.transport(), clock=clock
    )
    engine.finetune()
    with pytest.raises(JobFailedError) as caught:
        engine.wait()
    assert caught.value.reason == "Loss became NaN"
    with pytest.raises(JobFailedError, match="Loss became NaN"):
        engine.get_finetuned_model()


def test_a_cancelled_job(emu: TogetherEmulator, clock: VirtualClock, tmp_path: Path) -> None:
    engine = TogetherFinetuneEngine.from_chat_messages(
        conversations(2), BASE, tmp_path / "t.jsonl", transport=emu.transport(), clock=clock
    )
    engine.finetune()
    assert engine.fine_tuning.cancel(engine.get_current_job()).status == "cancel_requested"
    with pytest.raises(JobFailedError) as caught:
        engine.wait()
    assert caught.value.status == "cancelled"
    with pytest.raises(JobFailedError, match="cancelled"):
        engine.get_finetuned_model()


def test_an_endpoint_name_and_the_non_serverless_hint(
    emu: TogetherEmulator, clock: VirtualClock
) -> None:
    transport = emu.transport()
    endpoints = TogetherDedicatedEndpoints(transport, clock=clock)
    endpoint = endpoints.create(BASE, hardware="1x_nvidia_h100_80gb_sxm", wait=False)
    assert endpoint.name
    llm = TogetherLLM.from_fine_tune(endpoint.name, base_model=BASE, transport=transport)
    assert llm.metadata.context_window == get_model_capabilities(BASE).context_window
    with pytest.raises(NonServerlessModelError) as caught, endpoint_hints():
        llm.chat([ChatMessage(role="user", content="hi")])
    assert caught.value.code == "model_not_available" and "endpoints.create(" in caught.value.hint
    endpoints.wait(endpoint.id)
    emu.reply(text="served")
    assert llm.complete("hi").text == "served"
    with pytest.raises(ValueError, match="takes the model from the job"):
        TogetherLLM.from_fine_tune(endpoint.name, model="x", transport=transport)


def test_rerunning_after_a_crash_adopts_the_job_instead_of_paying_twice(
    emu: TogetherEmulator, clock: VirtualClock, tmp_path: Path
) -> None:
    path = tmp_path / "train.jsonl"
    transport = emu.transport()

    def engine(**kwargs: Any) -> TogetherFinetuneEngine:
        return TogetherFinetuneEngine.from_chat_messages(
            conversations(3), BASE, path, transport=transport, clock=clock, **kwargs
        )

    first = engine(n_epochs=2, suffix="weather")
    first.finetune()
    started = first.job_id
    del first  # the process died before it saved the job id
    again = engine(n_epochs=2, suffix="weather")
    again.finetune()  # the same file (found again on upload), model and settings
    assert len(creates(emu)) == 1 and again.job_id == started
    in_async = engine(n_epochs=2, suffix="weather")
    asyncio.run(in_async.afinetune())
    assert len(creates(emu)) == 1 and in_async.job_id == started
    assert again.get_current_job().n_epochs == 2
    engine(n_epochs=3, suffix="weather").finetune()  # other settings: a new job
    assert len(creates(emu)) == 2
    engine(n_epochs=2, suffix="weather", adopt_existing=False).finetune()
    assert len(creates(emu)) == 3
    engine(n_epochs=2, suffix="weather", lora_r=8).finetune()  # another LoRA rank
    assert len(creates(emu)) == 4
    engine(n_epochs=2, suffix="weather", lora_r=8).finetune()  # found again
    assert len(creates(emu)) == 4
    engine(n_epochs=2, suffix="weather", lora_r=16).finetune()
    assert len(creates(emu)) == 5


def test_a_failed_job_is_not_adopted(
    emu: TogetherEmulator, clock: VirtualClock, tmp_path: Path
) -> None:
    emu.fine_tunes.script(outcome="error", error="CUDA out of memory")
    path = tmp_path / "train.jsonl"
    transport = emu.transport()
    failed = TogetherFinetuneEngine.from_chat_messages(
        conversations(2), BASE, path, transport=transport, clock=clock
    )
    failed.finetune()
    with pytest.raises(JobFailedError):
        failed.wait()
    retry = TogetherFinetuneEngine(BASE, path, transport=transport, clock=clock)
    retry.finetune()
    assert len(creates(emu)) == 2 and retry.job_id != failed.job_id


@pytest.mark.network
def test_the_whole_lifecycle_over_loopback(clock: VirtualClock, tmp_path: Path) -> None:
    from together_integrations import TogetherTransport

    emu = TogetherEmulator(clock=clock)
    emu.fine_tunes.script(duration=2 * 3600)
    emu.reply(text="Sunny, over a socket.")
    with emu.serve() as server:
        transport = TogetherTransport(api_key="emulator-key", base_url=server.base_url)
        engine = TogetherFinetuneEngine.from_chat_messages(
            conversations(4), BASE, tmp_path / "train.jsonl", transport=transport, clock=clock
        )
        engine.finetune()
        done = engine.wait(poll_interval=600)
        llm = engine.get_finetuned_model()
        answer = llm.chat([ChatMessage(role="user", content="Weather?")]).message.content
        transport.close()
    assert done.status == "completed" and answer == "Sunny, over a socket."
    put = next(r for r in emu.requests if r.method == "PUT")
    assert "authorization" not in {k.lower() for k in put.headers}
    assert [r.body["model"] for r in emu.requests if r.path == "/v1/chat/completions"] == [
        done.model_output_name
    ]


def test_an_instance_of_llama_index_finetunings_engine_when_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import abc
    import importlib.machinery
    import types

    from together_integrations.llama_index import finetuning

    assert finetuning._register_with_llama_index_finetuning() is False  # not installed here

    class BaseLLMFinetuneEngine(abc.ABC):  # the shape of llama_index.finetuning.types
        @abc.abstractmethod
        def finetune(self) -> None: ...

    package = types.ModuleType("llama_index.finetuning")
    package.__spec__ = importlib.machinery.ModuleSpec("llama_index.finetuning", None)
    module = types.ModuleType("llama_index.finetuning.types")
    module.BaseLLMFinetuneEngine = BaseLLMFinetuneEngine  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "llama_index.finetuning", package)
    monkeypatch.setitem(sys.modules, "llama_index.finetuning.types", module)
    engine = TogetherFinetuneEngine(BASE, tmp_path / "train.jsonl")
    assert not isinstance(engine, BaseLLMFinetuneEngine)
    assert finetuning._register_with_llama_index_finetuning() is True
    assert isinstance(engine, BaseLLMFinetuneEngine)

"""Fine-tuning from LangChain on the emulator with virtual time: chat histories (tool calls
included) to a checked training file, the job, and ``ChatTogether.from_fine_tune`` chatting
with the output model with its base model's capabilities."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from together_integrations import (
    JobFailedError,
    TogetherConfigError,
    TogetherFineTuning,
    TrainingFileError,
    get_model_capabilities,
)
from together_integrations.fine_tuning import NonServerlessModelError, TogetherDedicatedEndpoints
from together_integrations.langchain import ChatTogether, to_training_file
from together_integrations.langchain.fine_tuning import LCNonServerlessModelError, endpoint_hints
from together_integrations.testing import TogetherEmulator, VirtualClock

BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return "sunny"


def histories(n: int) -> list[list[object]]:
    out: list[list[object]] = []
    for i in range(n):
        out.append(
            [
                SystemMessage("You are a weather bot."),
                HumanMessage(f"Weather in city {i}?"),
                AIMessage(
                    "",
                    tool_calls=[
                        {"name": "get_weather", "args": {"city": f"c{i}"}, "id": f"call_{i}"}
                    ],
                ),
                ToolMessage("sunny", tool_call_id=f"call_{i}"),
                AIMessage(f"It is sunny in city {i}."),
            ]
        )
    return out


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=1_800_000_000)


@pytest.fixture
def emu(clock: VirtualClock) -> TogetherEmulator:
    return TogetherEmulator(clock=clock)


def test_histories_become_a_valid_conversational_file(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    report = to_training_file(histories(3), path, tools=[get_weather])  # type: ignore[arg-type]
    assert (report.format, report.samples) == ("conversation", 3)
    first = json.loads(path.read_text().splitlines()[0])
    roles = [m["role"] for m in first["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    call = first["messages"][2]["tool_calls"][0]
    assert call["id"] == "call_0" and call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "c0"}
    assert first["messages"][3] == {"role": "tool", "content": "sunny", "tool_call_id": "call_0"}
    assert first["tools"][0]["function"]["name"] == "get_weather"
    assert "city" in first["tools"][0]["function"]["parameters"]["properties"]


def test_a_history_without_an_answer_is_refused_and_no_file_is_left(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    bad = [*histories(1), [HumanMessage("hello?")]]
    with pytest.raises(TrainingFileError, match="line 2: 'messages' has no assistant message"):
        to_training_file(bad, path)  # type: ignore[arg-type]
    assert not path.exists()


def test_fine_tune_from_langchain_then_chat(
    emu: TogetherEmulator, clock: VirtualClock, tmp_path: Path
) -> None:
    emu.fine_tunes.script(duration=2 * 3600)
    transport = emu.transport()
    ft = TogetherFineTuning(transport, clock=clock)
    path = tmp_path / "train.jsonl"
    to_training_file(histories(8), path, tools=[get_weather])  # type: ignore[arg-type]
    job = ft.create(path, model=BASE, n_epochs=2, suffix="weather")
    with pytest.raises(TogetherConfigError, match="not completed"):
        ChatTogether.from_fine_tune(job.id, transport=transport)
    done = ft.wait(job)
    assert [e.type for e in ft.events(job)][-1] == "job_complete"
    llm = ChatTogether.from_fine_tune(job.id, transport=transport, temperature=0)
    assert llm.model == done.model_output_name and llm.temperature == 0
    base = get_model_capabilities(BASE)
    assert llm.profile is not None
    assert llm.profile["max_input_tokens"] == base.context_window
    assert llm.profile["tool_calling"] == base.tool_calling
    emu.reply(text="It is sunny.")
    answer = llm.invoke("Weather in Paris?")
    assert answer.content == "It is sunny."
    assert emu.requests[-1].body["model"] == done.model_output_name
    same = ChatTogether.from_fine_tune(done, transport=transport)
    assert same.model == llm.model
    with pytest.raises(ValueError, match="takes the model from the job"):
        ChatTogether.from_fine_tune(done, model="other", transport=transport)


def test_from_fine_tune_on_a_failed_job_raises_the_reason(
    emu: TogetherEmulator, clock: VirtualClock, tmp_path: Path
) -> None:
    emu.fine_tunes.script(outcome="error", error="Training data has no assistant turns")
    transport = emu.transport()
    ft = TogetherFineTuning(transport, clock=clock)
    to_training_file(histories(2), tmp_path / "t.jsonl")  # type: ignore[arg-type]
    job = ft.create(tmp_path / "t.jsonl", model=BASE)
    clock.advance(3600)
    with pytest.raises(JobFailedError) as caught:
        ChatTogether.from_fine_tune(job.id, transport=transport)
    assert caught.value.reason == "Training data has no assistant turns"


def test_a_model_name_with_its_base_and_the_endpoint_hint(
    emu: TogetherEmulator, clock: VirtualClock
) -> None:
    transport = emu.transport()
    endpoints = TogetherDedicatedEndpoints(transport, clock=clock)
    endpoint = endpoints.create(BASE, hardware="1x_nvidia_h100_80gb_sxm", wait=False)
    assert endpoint.name
    llm = ChatTogether.from_fine_tune(endpoint.name, base_model=BASE, transport=transport)
    assert llm.profile is not None
    assert llm.profile["max_input_tokens"] == get_model_capabilities(BASE).context_window
    with pytest.raises(ModelInvalidRequestError) as caught:
        llm.invoke("hi")
    # The hint is there without asking for it; endpoint_hints() keeps working too.
    assert isinstance(caught.value, LCNonServerlessModelError)
    assert "transport.endpoints.create(" in str(caught.value)
    with pytest.raises(ModelInvalidRequestError) as hinted, endpoint_hints():
        llm.invoke("hi")
    assert isinstance(hinted.value, LCNonServerlessModelError)
    assert isinstance(hinted.value, NonServerlessModelError)
    assert "transport.endpoints.create(" in hinted.value.hint
    assert pickle.loads(pickle.dumps(hinted.value)).hint == hinted.value.hint
    endpoints.wait(endpoint.id)
    emu.reply(text="served")
    assert llm.invoke("hi").content == "served"

"""End to end: an LCEL chain streaming, and a langchain agent calling two tools, offline."""

from __future__ import annotations

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool

from together_integrations.langchain import ChatTogether
from together_integrations.testing import TogetherEmulator

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def test_lcel_chain_streams() -> None:
    emu = TogetherEmulator(stream_chunk_chars=4)
    emu.reply("Open models, one API.")
    llm = ChatTogether(model=MODEL, transport=emu.transport())
    chain = (
        ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{q}")])
        | llm
        | StrOutputParser()
    )
    pieces = list(chain.stream({"q": "Why Together?"}))
    assert len(pieces) > 3 and "".join(pieces) == "Open models, one API."
    assert emu.requests[-1].json["messages"][0] == {"role": "system", "content": "Be brief."}


@tool
def get_weather(city: str) -> str:
    """Current temperature in a city, in Celsius."""
    return f"18 C in {city}"


@tool
def to_fahrenheit(celsius: float) -> str:
    """Convert Celsius to Fahrenheit."""
    return f"{celsius * 9 / 5 + 32:.1f} F"


def test_agent_calls_two_tools_and_answers() -> None:
    emu = TogetherEmulator()
    emu.reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    emu.reply(tool_calls=[{"name": "to_fahrenheit", "arguments": {"celsius": 18}}])
    emu.reply("It is 64.4 F in Paris.")
    agent = create_agent(
        ChatTogether(model=MODEL, transport=emu.transport()), tools=[get_weather, to_fahrenheit]
    )
    result = agent.invoke({"messages": [("user", "Temperature in Paris in Fahrenheit?")]})
    messages = result["messages"]
    tool_outputs = [m.content for m in messages if isinstance(m, ToolMessage)]
    assert tool_outputs == ["18 C in Paris", "64.4 F"]
    assert isinstance(messages[-1], AIMessage) and messages[-1].content == "It is 64.4 F in Paris."
    # the second and third requests carried the tool results back with their call ids
    sent = emu.requests[2].json["messages"]
    assert [m["role"] for m in sent][-4:] == ["assistant", "tool", "assistant", "tool"]
    assert all(m.get("tool_call_id") for m in sent if m["role"] == "tool")

"""``together-integrations`` command line: ``demo`` shows both framework integrations at work.

Offline by default (a loopback Together emulator); live when ``TOGETHER_API_KEY`` is set, or
forced with ``--offline`` / ``--live``. Failures print one clear line, never a traceback.
The media step saves its image and speech into a temporary directory that is removed when
the step ends, so the demo leaves no files behind.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ._constants import API_KEY_ENV
from ._exceptions import AuthenticationError, TogetherError

CHAT_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
EMBED_MODEL = "intfloat/multilingual-e5-large-instruct"
RERANK_MODEL = "Salesforce/Llama-Rank-V1"
IMAGE_MODEL = "black-forest-labs/FLUX.1-schnell"
SPEECH_MODEL = "canopylabs/orpheus-3b-0.1-ft"
IMAGE_SIDE = 512

DOCUMENTS = [
    "Together AI serves more than 200 open models behind an OpenAI-compatible HTTP API.",
    "The Together rerank endpoint orders documents by their relevance to a query.",
    "Embeddings turn text into vectors so that similar texts have nearby vectors.",
    "LlamaIndex builds retrieval-augmented generation pipelines over your documents.",
    "LangChain composes prompts, chat models and parsers into runnable chains.",
]


class DemoError(Exception):
    """A failure the demo reports as one line."""


def _print(line: str = "") -> None:
    print(line, flush=True)


@contextlib.contextmanager
def _timed(label: str, timings: dict[str, float]) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[label] = time.perf_counter() - start


def _script_offline_answers(emu: Any) -> None:
    """What the emulated model answers in the demo (the live API needs no script)."""
    emu.reply(
        text="Together runs open models behind one API, so a LangChain chain can stream "
        "answers from any of them with a single line of configuration."
    )
    emu.reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    emu.reply(tool_calls=[{"name": "celsius_to_fahrenheit", "arguments": {"celsius": 18}}])
    emu.reply(text="It is 18 °C in Paris right now, which is 64.4 °F.")
    emu.reply(text="The rerank endpoint orders documents by their relevance to a query.")


def _langchain_part(
    settings: dict[str, Any], usage: dict[str, int], timings: dict[str, float]
) -> None:
    try:
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate
        from langchain_core.tools import tool
    except ImportError as exc:
        raise DemoError(
            "LangChain part needs the extra: "
            f'pip install "together-integrations[langchain]" ({exc})'
        ) from exc
    from .langchain import ChatTogether

    llm = ChatTogether(model=CHAT_MODEL, temperature=0, **settings)
    _print("── LangChain: prompt | ChatTogether | parser, streamed")
    chain = (
        ChatPromptTemplate.from_messages(
            [("system", "Answer in one sentence."), ("human", "{question}")]
        )
        | llm
        | StrOutputParser()
    )
    with _timed("langchain stream", timings):
        for piece in chain.stream({"question": "Why use Together with LangChain?"}):
            print(piece, end="", flush=True)
    _print()

    @tool
    def get_weather(city: str) -> str:
        """Current temperature in a city, in Celsius."""
        return f"18 °C in {city}"

    @tool
    def celsius_to_fahrenheit(celsius: float) -> str:
        """Convert Celsius to Fahrenheit."""
        return f"{celsius * 9 / 5 + 32:.1f} °F"

    _print("── LangChain: a tool-calling agent with two tools")
    tools = {"get_weather": get_weather, "celsius_to_fahrenheit": celsius_to_fahrenheit}
    bound = llm.bind_tools(list(tools.values()))
    from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

    messages: list[BaseMessage] = [HumanMessage("What is the temperature in Paris, in Fahrenheit?")]
    with _timed("langchain agent", timings):
        for _ in range(5):
            reply = bound.invoke(messages)
            messages.append(reply)
            _add_usage(usage, getattr(reply, "usage_metadata", None))
            calls = getattr(reply, "tool_calls", [])
            if not calls:
                break
            for call in calls:
                result = tools[call["name"]].invoke(call["args"])
                _print(f"   tool {call['name']}({call['args']}) -> {result}")
                messages.append(ToolMessage(str(result), tool_call_id=call["id"]))
    _print(f"   answer: {messages[-1].content}")


def _llama_index_part(
    settings: dict[str, Any], usage: dict[str, int], timings: dict[str, float]
) -> None:
    try:
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
    except ImportError as exc:
        raise DemoError(
            "LlamaIndex part needs the extra: "
            f'pip install "together-integrations[llama-index]" ({exc})'
        ) from exc
    from .llama_index import TogetherEmbedding, TogetherLLM, TogetherRerank

    _print("── LlamaIndex: embed → retrieve → rerank → synthesise")
    counter = TokenCountingHandler()
    llm = TogetherLLM(model=CHAT_MODEL, callback_manager=CallbackManager([counter]), **settings)
    embed = TogetherEmbedding(model_name=EMBED_MODEL, **settings)
    from llama_index.core import Settings

    # The query engine reports its LLM calls to Settings' callback manager.
    Settings.callback_manager = llm.callback_manager
    with _timed("llama-index rag", timings):
        index = VectorStoreIndex.from_documents(
            [Document(text=text) for text in DOCUMENTS], embed_model=embed
        )
        engine = index.as_query_engine(
            llm=llm,
            similarity_top_k=4,
            node_postprocessors=[TogetherRerank(model=RERANK_MODEL, top_n=2, **settings)],
        )
        answer = engine.query("What does the rerank endpoint do?")
    for node in answer.source_nodes:
        _print(f"   source ({node.score:.3f}): {node.node.get_content()[:70]}")
    _print(f"   answer: {str(answer).strip()[:300]}")
    usage["input"] += counter.prompt_llm_token_count
    usage["output"] += counter.completion_llm_token_count


def _media_part(settings: dict[str, Any], usage: dict[str, int], timings: dict[str, float]) -> None:
    try:
        from llama_index.core.base.llms.types import AudioBlock

        from .langchain import TogetherImageGenerationTool
        from .llama_index import TogetherTextToSpeechToolSpec
    except ImportError as exc:
        raise DemoError(
            "The media part needs both extras: "
            f'pip install "together-integrations[langchain,llama-index]" ({exc})'
        ) from exc
    from ._media import wav_duration

    _print("── Media: an image (LangChain tool) and a spoken answer (LlamaIndex tool spec)")
    with tempfile.TemporaryDirectory(prefix="together-demo-") as folder:
        image_tool = TogetherImageGenerationTool(model=IMAGE_MODEL, output_dir=folder, **settings)
        speech = TogetherTextToSpeechToolSpec(model=SPEECH_MODEL, output_dir=folder, **settings)
        args = {"prompt": "a red fox in fresh snow", "width": IMAGE_SIDE, "height": IMAGE_SIDE}
        with _timed("media", timings):
            # A tool call, as an agent makes it: the model would read only the short text.
            message = image_tool.invoke(
                {"type": "tool_call", "id": "demo", "name": image_tool.name, "args": args}
            )
            _, audio = speech.speak("A red fox, standing in fresh snow.")
        image = Path(message.artifact[0]["extras"]["path"])
        if not isinstance(audio, AudioBlock) or audio.path is None:
            raise DemoError("the speech tool returned no saved audio")
        sound = Path(audio.path).read_bytes()
        seconds = wav_duration(sound)
        length = f"{seconds:.1f} s of " if seconds else ""
        _print(
            f"   image: {IMAGE_SIDE}x{IMAGE_SIDE} {image.suffix[1:].upper()},"
            f" {image.stat().st_size:,} bytes, saved to {image}"
        )
        kind = str(audio.format or "audio").upper()
        _print(f"   speech: {length}{kind}, {len(sound):,} bytes, saved to {audio.path}")
    _print(f"   (both removed with {folder})")


def _add_usage(usage: dict[str, int], meta: Any) -> None:
    if meta:
        usage["input"] += int(meta.get("input_tokens", 0))
        usage["output"] += int(meta.get("output_tokens", 0))


def _run_demo(settings: dict[str, Any]) -> int:
    usage = {"input": 0, "output": 0}
    timings: dict[str, float] = {}
    failures = 0
    parts: list[Callable[[dict[str, Any], dict[str, int], dict[str, float]], None]] = [
        _langchain_part,
        _llama_index_part,
        _media_part,
    ]
    for part in parts:
        try:
            part(settings, usage, timings)
        except AuthenticationError:
            _print(f"error: the API key was rejected (401). Check {API_KEY_ENV}.")
            return 1
        except (DemoError, TogetherError, ImportError) as exc:
            failures += 1
            _print(f"error: {exc}")
    _print("── Usage and timings")
    _print(f"   tokens: {usage['input']} in, {usage['output']} out")
    for label, seconds in timings.items():
        _print(f"   {label}: {seconds * 1000:.0f} ms")
    return 1 if failures else 0


def demo(mode: str) -> int:
    """Run the demo; ``mode`` is ``auto``, ``offline`` or ``live``."""
    live = mode == "live" or (mode == "auto" and bool(os.environ.get(API_KEY_ENV)))
    if live:
        if not os.environ.get(API_KEY_ENV):
            _print(f"error: --live needs {API_KEY_ENV} to be set.")
            return 2
        _print("Running live against the Together API (TOGETHER_API_KEY is set).")
        return _run_demo({})
    try:
        from .testing import TogetherEmulator
    except ImportError as exc:  # pragma: no cover - the emulator ships with the package
        _print(f"error: the offline emulator is unavailable ({exc}).")
        return 2
    _print(
        "Running offline against the bundled Together emulator (set TOGETHER_API_KEY to go live)."
    )
    emu = TogetherEmulator()
    _script_offline_answers(emu)
    with emu.serve() as server:
        return _run_demo({"api_key": "offline-demo", "base_url": server.base_url})


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``together-integrations`` command."""
    parser = argparse.ArgumentParser(prog="together-integrations")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("demo", help="show LangChain and LlamaIndex running on Together")
    group = run.add_mutually_exclusive_group()
    group.add_argument("--offline", action="store_const", const="offline", dest="mode")
    group.add_argument("--live", action="store_const", const="live", dest="mode")
    args = parser.parse_args(argv)
    try:
        return demo(args.mode or "auto")
    except KeyboardInterrupt:
        return 130
    except TogetherError as exc:
        _print(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Client settings every LlamaIndex class shares (``ClientSettingsMixin``): the key, pickles,
base URL, injected clients, ``allow_insecure_http``. Each test runs on all three classes."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core.schema import NodeWithScore, TextNode

from together_integrations import TogetherConfigError, TogetherTransport
from together_integrations.llama_index import TogetherEmbedding, TogetherLLM, TogetherRerank
from together_integrations.testing import TogetherEmulator

KEY = "tgp_v1_SettingsSecretKey0123456789"
OTHER_KEY = "tgp_v1_WorkerSecretKey9876543210"

Build = Callable[..., Any]
CLASSES: dict[str, Build] = {
    "llm": lambda **kw: TogetherLLM(model="openai/gpt-oss-20b", **kw),
    "embedding": lambda **kw: TogetherEmbedding(model_name="BAAI/bge-base-en-v1.5", **kw),
    "rerank": lambda **kw: TogetherRerank(**kw),
}


def call(obj: Any) -> None:
    """One request through whichever class ``obj`` is."""
    if isinstance(obj, TogetherLLM):
        obj.complete("hi")
    elif isinstance(obj, TogetherEmbedding):
        obj.get_query_embedding("hi")
    else:
        obj.postprocess_nodes([NodeWithScore(node=TextNode(text="doc"))], query_str="q")


@pytest.fixture(params=sorted(CLASSES))
def build(request: pytest.FixtureRequest) -> Build:
    return CLASSES[request.param]


# ------------------------------------------------------------------------- the key


def test_the_key_is_in_no_serialised_form(build: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    for obj in (build(api_key=KEY), build()):
        assert obj.api_key.get_secret_value() == KEY
        forms = [repr(obj), str(obj), obj.to_json(), json.dumps(obj.to_dict())]
        forms += [obj.model_dump_json(), repr(obj.model_dump())]
        assert not [f for f in forms if KEY in f]
        assert "api_key" not in type(obj).from_dict(obj.to_dict()).to_dict()


def test_construction_does_no_io_and_the_key_is_needed_at_the_first_request(
    build: Build, emu: TogetherEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    keyless = build()  # no key anywhere: still constructs
    build(transport=emu.transport())
    assert emu.requests == []
    with pytest.raises(TogetherConfigError, match="API key"):
        call(keyless)


@pytest.mark.parametrize("source", ["argument", "environment"])
def test_a_pickle_carries_no_key_and_the_copy_reads_the_environment_again(
    build: Build, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    obj = build(api_key=KEY) if source == "argument" else build()
    assert obj.api_key.get_secret_value() == KEY
    data = pickle.dumps(obj)
    assert KEY.encode() not in data
    monkeypatch.setenv("TOGETHER_API_KEY", OTHER_KEY)  # the worker's environment
    clone = pickle.loads(data)
    assert type(clone) is type(obj)
    assert clone.api_key is not None and clone.api_key.get_secret_value() == OTHER_KEY
    monkeypatch.delenv("TOGETHER_API_KEY")
    assert pickle.loads(data).api_key is None


@pytest.mark.parametrize("key", ["", "   ", "\n"])
def test_an_empty_key_is_a_config_error_at_construction(build: Build, key: str) -> None:
    with pytest.raises(TogetherConfigError, match="api_key is empty"):
        build(api_key=key)


def test_surrounding_whitespace_is_stripped_and_a_bad_key_never_echoed(build: Build) -> None:
    emu = TogetherEmulator(api_key=KEY)
    obj = build(api_key=f" {KEY}\n", http_client=emu.http_client())
    assert obj.api_key.get_secret_value() == KEY
    emu.reply("ok")
    call(obj)  # the emulator answers 401 unless the header is exactly the key
    with pytest.raises(TogetherConfigError, match="cannot be sent") as info:
        build(api_key="tgp_v1_Käse")
    assert "Käse" not in str(info.value)


# ------------------------------------------------------------ settings in pickles


def test_base_url_timeout_retries_and_headers_survive_a_pickle(build: Build) -> None:
    obj = build(
        api_key=KEY,
        api_base="https://proxy.example/v1",
        timeout=7.0,
        max_retries=1,
        default_headers={"x-app": "rag"},
    )
    clone = pickle.loads(pickle.dumps(obj))
    assert clone._get_transport().base_url == "https://proxy.example/v1"
    assert (clone.timeout, clone.max_retries, clone.default_headers) == (7.0, 1, {"x-app": "rag"})


def test_an_explicit_transport_travels_as_its_settings(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    transport = TogetherTransport(
        base_url="https://proxy.example/v1",
        timeout=5.0,
        max_retries=4,
        default_headers={"x-team": "search"},
    )
    data = pickle.dumps(build(transport=transport))
    assert KEY.encode() not in data
    sent = pickle.loads(data)._get_transport()
    assert sent.base_url == "https://proxy.example/v1"  # not the production host
    assert (sent.timeout, sent.max_retries, sent.default_headers) == (
        5.0,
        4,
        {"x-team": "search"},
    )


@pytest.mark.parametrize("how", ["http_client", "async_http_client", "transport"])
def test_httpx_clients_refuse_to_pickle_instead_of_sending_to_production(
    build: Build, emu: TogetherEmulator, how: str
) -> None:
    kwargs: dict[str, Any] = {
        "http_client": {"http_client": emu.http_client()},
        "async_http_client": {"async_http_client": emu.async_http_client()},
        "transport": {"transport": emu.transport()},
    }[how]
    obj = build(api_key=KEY, **kwargs)
    with pytest.raises(TypeError, match="httpx clients") as info:
        pickle.dumps(obj)
    assert "Build the object inside each worker" in str(info.value)
    assert KEY not in str(info.value)


# ----------------------------------------------------------------- base URL, http


def test_api_base_alias_and_http_client_are_used(build: Build, emu: TogetherEmulator) -> None:
    obj = build(
        api_key=KEY,
        api_base="https://proxy.example/v1",
        http_client=emu.http_client(),
    )
    emu.reply("ok")
    call(obj)
    assert emu.requests[-1].headers["host"] == "proxy.example"
    assert emu.requests[-1].path.startswith("/v1/")


def test_allow_insecure_http_is_honoured(build: Build, emu: TogetherEmulator) -> None:
    with pytest.raises(TogetherConfigError, match="allow_insecure_http"):
        build(api_key=KEY, base_url="http://gateway.internal/v1", http_client=emu.http_client())
    obj = build(
        api_key=KEY,
        base_url="http://gateway.internal/v1",
        allow_insecure_http=True,
        http_client=emu.http_client(),
    )
    emu.reply("ok")
    call(obj)
    assert emu.requests[-1].headers["host"] == "gateway.internal"
    shared = build(api_key=KEY, base_url="http://10.1.2.3/v1", allow_insecure_http=True)
    assert shared._get_transport().base_url == "http://10.1.2.3/v1"
    with pytest.raises(TogetherConfigError, match="allow_insecure_http"):
        build(api_key=KEY, base_url="http://10.1.2.3/v1")._get_transport()


# ------------------------------------------------- IngestionPipeline(num_workers=...)
# Only the embedding runs in the workers: a SentenceSplitter there would fetch its tiktoken
# encoding from the internet in each spawned process.


def _run_pipeline(embed: TogetherEmbedding) -> list[Any]:
    from llama_index.core.ingestion import IngestionPipeline

    nodes = [TextNode(text=f"Document {i} is about topic {i}.") for i in range(6)]
    result: list[Any] = IngestionPipeline(transformations=[embed]).run(nodes=nodes, num_workers=2)
    return result


def test_pipeline_workers_refuse_an_embedding_built_on_an_http_client(
    emu: TogetherEmulator,
) -> None:
    embed = TogetherEmbedding("BAAI/bge-base-en-v1.5", http_client=emu.http_client())
    with pytest.raises(TypeError, match="Cannot pickle this TogetherEmbedding"):
        _run_pipeline(embed)
    assert emu.requests == []


@pytest.mark.network
def test_pipeline_workers_send_where_the_settings_say(
    emu: TogetherEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", "emulator-key")  # the workers' key source
    with emu.serve() as server:
        nodes = _run_pipeline(TogetherEmbedding("BAAI/bge-base-en-v1.5", base_url=server.base_url))
    assert len(nodes) == 6 and all(n.embedding for n in nodes)
    assert len(emu.requests) == 2  # one per worker, to the emulator and not to production

"""Property tests of SSEDecoder: any split of a valid event stream decodes to the same events
as the whole stream, and those are the events that were written."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from together_integrations import ServerSentEvent, SSEDecoder

# Field values never hold line breaks (the format cannot carry them) and are valid UTF-8.
value_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=["Cs"]),
    max_size=24,
)
name_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.", min_size=1, max_size=10)


@dataclass(frozen=True)
class Spec:
    data: tuple[str, ...]
    event: str | None
    id: str | None
    comments: tuple[int, ...]  # positions among the data lines where a comment is inserted


specs = st.builds(
    Spec,
    data=st.lists(value_text, min_size=1, max_size=4).map(tuple),
    event=st.none() | name_text,
    id=st.none() | name_text,
    comments=st.lists(st.integers(0, 4), max_size=3).map(tuple),
)


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent]]:
    """A byte stream and the events a conforming decoder must produce from it."""
    events = draw(st.lists(specs, min_size=1, max_size=6))
    mixed = draw(st.booleans())
    fixed = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    previous = ""

    def newline() -> str:
        nonlocal previous
        if not mixed:
            return fixed
        # After a bare CR, an LF would merge with it into one CRLF break: not a valid choice.
        choice = draw(st.sampled_from(["\r\n", "\r"] if previous == "\r" else ["\n", "\r\n", "\r"]))
        previous = choice
        return choice

    lines: list[str] = []
    expected: list[ServerSentEvent] = []
    last_id: str | None = None
    for spec in events:
        if draw(st.booleans()):
            lines.append(":" + draw(value_text))  # keep-alive / comment line
        if spec.event is not None:
            lines.append(f"event: {spec.event}")
        if spec.id is not None:
            lines.append(f"id:{spec.id}")  # no space after the colon is valid too
            last_id = spec.id
        for i, data in enumerate(spec.data):
            if i in spec.comments:
                lines.append(": ping")
            lines.append(f"data: {data}")
        lines.append("")  # the blank line that dispatches the event
        expected.append(ServerSentEvent("\n".join(spec.data), spec.event, last_id))
    raw = "".join(line + newline() for line in lines).encode()
    return raw, expected


def decode_whole(raw: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    return decoder.feed(raw) + decoder.flush()


def decode_pieces(pieces: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    out: list[ServerSentEvent] = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    return out + decoder.flush()


@settings(max_examples=300, deadline=None)
@given(stream=streams(), cuts=st.lists(st.integers(min_value=0, max_value=2_000), max_size=16))
def test_any_split_decodes_to_the_written_events(
    stream: tuple[bytes, list[ServerSentEvent]], cuts: list[int]
) -> None:
    raw, expected = stream
    whole = decode_whole(raw)
    assert whole == expected
    bounds = sorted({min(c, len(raw)) for c in cuts})
    pieces = [raw[a:b] for a, b in zip([0, *bounds], [*bounds, len(raw)], strict=True)]
    assert b"".join(pieces) == raw
    assert decode_pieces(pieces) == whole


@settings(max_examples=100, deadline=None)
@given(stream=streams())
def test_byte_by_byte_decodes_to_the_written_events(
    stream: tuple[bytes, list[ServerSentEvent]],
) -> None:
    raw, expected = stream
    assert decode_pieces([raw[i : i + 1] for i in range(len(raw))]) == expected


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(value_text, min_size=1, max_size=5), newline=st.sampled_from(["\n", "\r\n", "\r"])
)
def test_a_last_event_without_a_blank_line_is_flushed(data: list[str], newline: str) -> None:
    raw = newline.join(f"data: {d}" for d in data).encode()
    assert decode_whole(raw) == [ServerSentEvent("\n".join(data))]


def test_retry_and_unknown_fields() -> None:
    raw = b"retry: 1500\nfoo: bar\ndata\nretry: soon\n\n"
    assert decode_whole(raw) == [ServerSentEvent("", retry=1500)]

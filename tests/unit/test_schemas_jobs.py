"""Wire models of the job, file and media families (NOTES-jobs §2-§8): statuses in any case,
ISO or epoch timestamps, envelopes and bare arrays, unknown keys kept, secrets kept out of
repr, and the poller interface every job model offers."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from together_integrations.schemas import (
    FileDeleted,
    FileList,
    FileObject,
)
from together_integrations.schemas.files import LenientStrEnum, Timestamp

UTC = timezone.utc
T0 = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)
T0_EPOCH = int(T0.timestamp())


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


# --------------------------------------------------------------------------- shared pieces


@pytest.mark.parametrize(
    "raw",
    [
        T0_EPOCH,
        float(T0_EPOCH),
        T0_EPOCH * 1000,
        str(T0_EPOCH),
        "2024-01-15T14:30:00Z",
        "2024-01-15T14:30:00+00:00",
        "2024-01-15T16:30:00+02:00",
        "2024-01-15T14:30:00.000000000Z",
        "2024-01-15 14:30:00",
    ],
)
def test_timestamps_read_epoch_and_iso_as_the_same_aware_instant(raw: Any) -> None:
    parsed = FileObject.model_validate({"id": "file-1", "created_at": raw}).created_at
    assert parsed == T0
    assert parsed is not None and parsed.tzinfo is not None


@pytest.mark.parametrize("raw", [None, "", "  ", 0, "0001-01-01T00:00:00Z", "soon", [1]])
def test_unset_or_unreadable_timestamps_become_none(raw: Any) -> None:
    assert FileObject.model_validate({"id": "file-1", "created_at": raw}).created_at is None


def test_timestamp_alias_is_usable_in_other_models() -> None:
    from pydantic import TypeAdapter

    assert TypeAdapter(Timestamp).validate_python("2024-01-15T14:30:00Z") == T0


class _Colour(LenientStrEnum):
    DARK_RED = "DARK_RED"
    CANCELLED = "cancelled"


@pytest.mark.parametrize("raw", ["DARK_RED", "dark_red", "Dark-Red", " dark red "])
def test_lenient_enum_matches_case_and_separators(raw: str) -> None:
    assert _Colour.parse(raw) is _Colour.DARK_RED


def test_lenient_enum_accepts_the_american_spelling() -> None:
    assert _Colour.parse("CANCELED") is _Colour.CANCELLED


def test_lenient_enum_keeps_an_unknown_value_as_text() -> None:
    value = _Colour.parse("Paused")
    assert value == "Paused" and not isinstance(value, _Colour)
    assert _Colour.parse(None) == ""
    assert str(_Colour.DARK_RED) == "DARK_RED" and f"{_Colour.CANCELLED}" == "cancelled"


# --------------------------------------------------------------------------- files


def _file(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "file-6f4a1c2e",
        "object": "file",
        "created_at": T0_EPOCH,
        "filename": "train.jsonl",
        "bytes": 2048,
        "purpose": "fine-tune",
        "FileType": "jsonl",
        "Processed": True,
    }
    body.update(overrides)
    return body


def test_file_reads_the_capitalised_spec_keys() -> None:
    f = FileObject.model_validate_json(dumps(_file()))
    assert (f.file_type, f.processed, f.bytes, f.created_at) == ("jsonl", True, 2048, T0)
    assert f.model_extra == {}


def test_file_reads_lower_case_keys_too() -> None:
    body = _file(file_type="parquet", processed=False, processing_status="done")
    del body["FileType"], body["Processed"]
    f = FileObject.model_validate(body)
    assert (f.file_type, f.processed, f.processing_status) == ("parquet", False, "done")


def test_file_keeps_unknown_keys_and_unknown_purposes() -> None:
    f = FileObject.model_validate(_file(purpose="eval-judge", LineCount=12))
    assert f.purpose == "eval-judge"
    assert f.model_extra == {"LineCount": 12}


def test_file_created_at_accepts_iso() -> None:
    assert FileObject.model_validate(_file(created_at="2024-01-15T14:30:00Z")).created_at == T0


@pytest.mark.parametrize(
    "body",
    [{"object": "list", "data": [_file(), _file(id="file-2")]}, [_file(), _file(id="file-2")]],
)
def test_file_list_reads_envelope_or_bare_array(body: Any) -> None:
    listed = FileList.model_validate_json(dumps(body))
    assert [f.id for f in listed.data] == ["file-6f4a1c2e", "file-2"]


def test_file_list_null_data_is_empty() -> None:
    assert FileList.model_validate({"data": None}).data == []


def test_file_deleted() -> None:
    d = FileDeleted.model_validate_json(b'{"id": "file-1", "deleted": true}')
    assert d.id == "file-1" and d.deleted is True

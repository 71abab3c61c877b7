"""The one parser of manifest lines: a JSON object with the field its reader needs, or an error naming the line."""

from __future__ import annotations

import pytest

from seqtrain.data.manifest_row import manifest_row
from seqtrain.errors import DataError


def test_a_row_with_its_field_is_returned_whole() -> None:
    assert manifest_row('{"path": "a.flac", "text": "one"}', "path", "m.jsonl, line 3") == {
        "path": "a.flac",
        "text": "one",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.flac", r"m.jsonl, line 3: not a JSON object \(Expecting value\); a manifest has one object per line"),
        ('["a.flac"]', "m.jsonl, line 3: not a JSON object but list"),
        ('{"text": "one"}', r'm.jsonl, line 3: needs a "path" string \(the audio file\)'),
        ('{"path": 7}', r'm.jsonl, line 3: needs a "path" string \(the audio file\)'),
    ],
)
def test_each_mistake_names_file_line_and_field(text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        manifest_row(text, "path", "m.jsonl, line 3", hint=" (the audio file)")

"""The nesting depth of JSON bytes without escapes (:func:`guard.boundedjson.nesting_depth_unescaped`,
what ``loads_bounded`` measures conda-meta records with) is exactly the depth the text scan
measures, for any such input, valid or not: brackets inside strings, empty strings side by side,
an unterminated string, multi-byte characters, a run deeper than the limit."""

from __future__ import annotations

import json
import random

import pytest

from guard.boundedjson import JSONInputError, loads_bounded, nesting_depth, nesting_depth_unescaped

CASES = [
    '{"a": "[[[[", "b": [1, {"c": "]]"}]}',
    '["", "", "[", ""]',
    '""""[[]]',
    '"abc [[[[' + "[" * 300,
    '[[["x"]], "é[ü{", {"k": []}]',
    "[[]" * 300 + "]" * 300,
    "[]" * 10_000,
    '"[[["',
    "3",
]


@pytest.mark.parametrize("text", CASES)
def test_same_depth_as_the_text_scan(text):
    assert nesting_depth_unescaped(text.encode()) == nesting_depth(text)


def test_same_depth_on_random_inputs():
    rng = random.Random(14)
    for _ in range(3000):
        text = "".join(rng.choice('[]{}"a,é ') for _ in range(rng.randrange(0, 40)))
        assert nesting_depth_unescaped(text.encode(), 5) == nesting_depth(text, 5), text


def test_loads_bounded_refuses_deep_bytes_and_reads_a_record():
    with pytest.raises(JSONInputError, match="nested more than 256"):
        loads_bounded(b'{"a": ' + b"[" * 300 + b"]" * 300 + b"}")
    record = {"files": [f"lib/m{i}.py" for i in range(50)], "paths_data": {"paths": [{"_path": "[x]"}]}}
    assert loads_bounded(json.dumps(record).encode()) == record

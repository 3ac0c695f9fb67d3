"""A fetched index page decoded into rows as a stream: the body's text read one file entry (JSON)
or one piece of HTML at a time, each row encoded for the page's record and its digest as it is
made, and only the rows the caller keeps (this interpreter's view) held as lists. A big page
(pydantic-core: 6.6 MB of JSON, 15,057 files) was alive three times over while decoded (the
bytes, their text, the decoded tree of 173,000 objects) and then as 15,057 rows; now it is its
text, its rows' JSON and the few hundred rows that apply here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from guard.index.cache import EncodedRows
from guard.index.pages import (
    HTML_TYPES,
    JSON_TYPE,
    AgainWhole,
    Link,
    html_text,
    iter_html_links,
    iter_json_links,
    json_text,
    parse_html,
    parse_json_whole,
)


class Answered(NamedTuple):
    """What is kept of an HTTP answer once its body is taken: requests' Response holds the
    body's bytes as long as it lives."""

    status_code: int
    headers: Any
    url: str


def decode_page(
    content_type: str,
    content_header: str,
    body: list[Any],
    base_url: str,
    to_rows: Callable[[Iterator[Link]], Iterable[list]],
    keep: Callable[[list], bool] | None,
) -> tuple[list[list], list[bytes], str]:
    """``(kept rows, the JSON of all rows in pieces, their digest)`` of a page whose body is the
    one item of ``body`` (bytes or bytearray, taken out: freed once decoded to text). ``to_rows``:
    links to rows, a row at a time; ``keep``: the rows kept as lists (None: all). Raises
    ValueError (UnicodeDecodeError, LookupError) for a page that cannot be read."""
    content = body.pop()
    stream: Callable[[str, str], Iterator[Link]]
    whole: Callable[[str, str], list[Link]]
    if content_type == JSON_TYPE:
        text = json_text(content)
        stream, whole = iter_json_links, parse_json_whole
    elif content_type in HTML_TYPES:
        text = html_text(content, content_header)
        stream, whole = iter_html_links, parse_html
    else:
        raise ValueError(f"Content-Type {content_type or 'missing'}")
    del content
    rows = EncodedRows(keep)
    try:
        for row in to_rows(stream(text, base_url)):
            rows.add(row)
    except AgainWhole:  # rare pages the stream leaves to the whole-page decoder
        rows = EncodedRows(keep)
        for row in to_rows(iter(whole(text, base_url))):
            rows.add(row)
    digest = rows.finish()
    return rows.kept, rows.pieces, digest

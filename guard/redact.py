"""One redaction for everything the guard writes or prints: the journal, the verdict cache, the
guard's own messages. Credentials never leave the process that was given them.

* ``scheme://user:secret@host`` and ``scheme://token@host`` -> ``scheme://****@host`` (the whole
  user part: a lone "user" is often a token, as in ``https://TOKEN@github.com``);
* a scheme-less ``user:secret@host`` (pip's ``--proxy user:pass@host:3128``) -> ``****@host``;
* the value of ``--proxy`` whatever its form, and of any ``--password``/``--token``/``--auth*``
  option -> ``****`` in place of the credentials.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

MASK = "****"

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<cred>[^/@\s]+)@")
# user:secret@host without a scheme, at the start of a word (or after = , ; quotes)
_BARE_CREDENTIALS = re.compile(r"(?P<lead>^|[\s=,;'\"(\[])(?P<cred>[^\s/@:'\"=,;]+:[^\s/@'\"]*)@(?=[^\s@/])")
_SECRET_OPTION = re.compile(r"(?i)(--?(?:password|token|auth)[^=\s]*[=\s])\S+")
_PROXY_OPTION = re.compile(r"(--prox(?:y|)?[=\s]+)(?!\S*://)([^\s@]+)@")
_PROXY_NAMES = ("--proxy", "--prox")


def redact(text: str) -> str:
    """``text`` with every credential it carries replaced by ``****``. Idempotent."""
    if "@" not in text and "-" not in text:
        return text
    text = _URL_CREDENTIALS.sub(r"\g<scheme>" + MASK + "@", text)
    text = _BARE_CREDENTIALS.sub(r"\g<lead>" + MASK + "@", text)
    text = _PROXY_OPTION.sub(r"\1" + MASK + "@", text)
    return _SECRET_OPTION.sub(r"\1" + MASK, text)


def _proxy_value(value: str) -> str:
    """A ``--proxy`` value: ``[scheme://][user[:pass]@]host[:port]`` with the user part masked."""
    scheme, sep, rest = value.rpartition("://")
    if "@" not in rest:
        return redact(value)
    return f"{scheme}{sep}{MASK}@{rest.rpartition('@')[2]}"


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line with credentials masked; an option's value in the next word (pip's
    ``--proxy user:pass@host``) is read as that option's value."""
    out: list[str] = []
    take_proxy = take_secret = False
    for word in argv:
        word = str(word)
        if take_proxy:
            out.append(_proxy_value(word))
        elif take_secret:
            out.append(MASK)
        else:
            name, eq, value = word.partition("=")
            if eq and name in _PROXY_NAMES:
                out.append(f"{name}={_proxy_value(value)}")
            elif eq and re.fullmatch(r"(?i)--?(?:password|token|auth)\S*", name):
                out.append(f"{name}={MASK}")
            else:
                out.append(redact(word))
        take_proxy = word in _PROXY_NAMES
        take_secret = bool(re.fullmatch(r"(?i)--?(?:password|token|auth)\S*", word)) and not take_proxy
    return out


def scrub(value: Any) -> Any:
    """Plain JSON data with every string redacted (lists and tuples become lists); a list named
    ``argv`` is redacted as a command line."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {
            k: (
                redact_argv(v)
                if k == "argv" and isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v)
                else scrub(v)
            )
            for k, v in value.items()
        }
    return value

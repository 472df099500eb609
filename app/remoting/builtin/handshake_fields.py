"""The few HTTP fields the handshake reads and writes, as plain functions.

h11 does the framing; these read the headers the protocol defines (RFC 9110 field
syntax, RFC 6750 Bearer tokens) and make and check the one-time session ids. No state,
no I/O: each is tested by value.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Any

from app.remoting.builtin.protocol import MAX_TOKEN_BYTES, SESSION_ID_BYTES, SESSION_ID_CHARS

# RFC 6750 b64token, widened to any visible ASCII so opaque secrets travel as they are.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
_SESSION_ID = re.compile(rf"[A-Za-z0-9_-]{{{SESSION_ID_CHARS}}}")
# auth-param = token BWS "=" BWS ( token / quoted-string ), RFC 9110 section 11.2.
_AUTH_PARAM = re.compile(
    r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*(?:,|$)'
)


def header(headers: Iterable[tuple[bytes, bytes]], name: str) -> str | None:
    """The value of the single header `name` (h11 lower-cases names), or None."""
    wanted = name.lower().encode("ascii")
    values = [value for key, value in headers if key == wanted]
    if len(values) != 1:
        return None
    try:
        return values[0].decode("ascii")
    except UnicodeDecodeError:
        return None


def parse_bearer_challenge(value: str) -> dict[str, str] | None:
    """Auth-params of a `Bearer` challenge (`realm`, `error`, ...), or None when the
    challenge is not Bearer. Quoted strings are unquoted (RFC 9110 section 5.6.4)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _AUTH_PARAM.match(rest, position)
        if match is None:
            return params
        name, raw = match.group(1).lower(), match.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params.setdefault(name, raw)
        position = match.end()
    return params


def head_size(start_line: Iterable[bytes], headers: Iterable[tuple[bytes, bytes]]) -> int:
    """Bytes of a message head as sent (start line and header lines, CRLFs included).

    h11's `max_incomplete_event_size` bounds only a head that is still incomplete in
    its buffer; one that arrives whole in a single read is parsed whatever its size.
    Checking the parsed head as well makes the limit independent of read sizes."""
    line = sum(len(part) for part in start_line) + 2 + 2
    return line + sum(len(name) + len(value) + 4 for name, value in headers) + 2


def valid_token_text(token: str) -> bool:
    return len(token.encode("utf-8")) <= MAX_TOKEN_BYTES and bool(_TOKEN_CHARS.fullmatch(token))


def new_session_id(random_bytes: bytes) -> str:
    """Session id text from SESSION_ID_BYTES random bytes (base64url, no padding)."""
    if len(random_bytes) != SESSION_ID_BYTES:
        raise ValueError(f"a session id needs {SESSION_ID_BYTES} random bytes")
    return base64.urlsafe_b64encode(random_bytes).rstrip(b"=").decode("ascii")


def valid_session_id(text: str) -> bool:
    if not _SESSION_ID.fullmatch(text):
        return False
    try:
        base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        return False
    return True


def json_body(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")

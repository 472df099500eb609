"""The built-in runtime's wire protocol: names, numbers and every size limit, in one
place. docs/protocol.md describes the same protocol for someone writing a peer.

Each limit has a name, a value, the reason and (where there is one) a precedent,
as h11 does with `DEFAULT_MAX_INCOMPLETE_EVENT_SIZE`.
"""

from __future__ import annotations

import enum
from typing import Literal

from app import defaults

Role = Literal["remote", "player"]
ROLES: tuple[Role, ...] = ("remote", "player")

#: The one protocol version this implementation speaks (handshake and transport).
PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = frozenset({PROTOCOL_VERSION})

DEFAULT_HANDSHAKE_PORT = defaults.DEFAULT_HANDSHAKE_PORT
DEFAULT_TRANSPORT_PORT = defaults.DEFAULT_TRANSPORT_PORT

# --- handshake (HTTP/1.1 over TLS, framed by h11) ------------------------------------

HANDSHAKE_PATH = "/remoting/v1/handshake"
VERSION_HEADER = "Holoremote-Protocol-Version"
ROLE_HEADER = "Holoremote-Role"
SUPPORTED_VERSIONS_HEADER = "Holoremote-Supported-Versions"
# Sent by diagnostic clients (`holoremote doctor`): a refusal of a request that
# carries it is answered as usual but never ends the listen.
PROBE_HEADER = "Holoremote-Probe"
USER_AGENT = "holoremote/1"
SERVER_NAME = "holoremote/1"

# JSON "error" values in non-200 answers; the client maps them to disconnect reasons.
ERROR_UNSUPPORTED_VERSION = "unsupported_protocol_version"  # 400 -> REMOTING_VERSION_MISMATCH
ERROR_SAME_ROLE = "same_role"  # 409 -> HANDSHAKE_FAILED
ERROR_BAD_REQUEST = "bad_request"  # 400 -> HANDSHAKE_FAILED
# Plain bytes on a TLS port, answered in plain HTTP before any TLS (as nginx does).
ERROR_TLS_REQUIRED = "tls_required"  # 400 -> HANDSHAKE_CONNECTION_FAILED
ERROR_NOT_FOUND = "not_found"  # 404/405 -> HANDSHAKE_FAILED
ERROR_BUSY = "busy"  # 503 -> HANDSHAKE_FAILED (a session is already open)
ERROR_INVALID_TOKEN = "invalid_token"  # noqa: S105 - an error code, not a secret; 401 (RFC 6750 section 3.1) -> AUTHENTICATION_FAILED
# 429 Too Many Requests (RFC 6585 section 4) + Retry-After (RFC 9110 section 10.2.3):
# the peer's address is blocked after refused tokens -> AUTHENTICATION_FAILED
ERROR_TOO_MANY_FAILURES = "too_many_failed_attempts"
RETRY_AFTER_HEADER = "Retry-After"

# Longest request or response head (request line + headers) either end accepts.
# Ours are ~300 bytes plus a token of at most 1023 bytes. Precedent: Apache's
# LimitRequestFieldSize is 8190 and nginx's large_client_header_buffers is 8 KiB;
# h11's own default (16 KiB) is larger than this protocol ever needs.
MAX_HEAD_BYTES = 8 * 1024
# Longest handshake body. The 200 answer is a JSON object of ~150 bytes and error
# answers are smaller; nothing legitimate comes close to 4 KiB.
MAX_BODY_BYTES = 4 * 1024
# A secure handshake is at most two requests on one connection (the unauthenticated
# one that gets the challenge, then the one with the token); plain mode needs one.
MAX_REQUESTS_PER_CONNECTION = 2
# Longest token the client sends: the specification's 1 KiB callback buffer minus
# its terminator.
MAX_TOKEN_BYTES = 1023
# Longest request line (method, target, version). Ours is `POST /remoting/v1/handshake
# HTTP/1.1` (41 bytes); longer is answered 414 (RFC 9110 section 15.5.15). Precedent:
# Apache's LimitRequestLine (8190) and nginx's 8 KiB buffers, scaled down to what this
# one-path protocol can ever need.
MAX_REQUEST_LINE_BYTES = 1024
# Most header fields in one head. Ours send 6-9; answered 431 (RFC 6585 section 5).
# Precedent: Apache's LimitRequestFields (100); 32 is plenty for proxies that add a few.
MAX_HEADER_COUNT = 32

# --- connections before a session (the server) ----------------------------------------
#
# What a peer can hold without presenting anything: a TCP connection, a TLS handshake,
# an HTTP exchange that has not reached a verdict. Exceeding one of these closes that
# connection alone (docs/security.md).

# Connections one IP address may hold at once on a listener (both ports together)
# before the session opens; one more is closed at once, before TLS. Precedent: sshd's
# MaxStartups begins refusing unauthenticated connections at 10 (in all); a client of
# this protocol needs 2 (handshake, then transport), and 16 leaves room for several
# people behind one NAT and for `holoremote doctor`.
MAX_UNAUTHENTICATED_PER_ADDRESS = 16
# ... and all addresses together. Precedent: sshd's MaxStartups drops all at 100 and
# nginx's worker_connections defaults to 512; 256 keeps the worst case (every one of
# them through TLS and idle, ~0.45 MiB each) near 110 MiB, while one address can hold
# only 16 of them.
MAX_UNAUTHENTICATED_TOTAL = 256
# A connection that sends nothing is closed after this (slow-loris). Both clients of
# this protocol speak first at once (a ClientHello, or the plain request), and no
# person is asked anything before that. Precedent: Apache mod_reqtimeout's default
# `header=20-40` bounds the time to a whole request head; a first byte needs far less.
FIRST_BYTE_TIMEOUT_S = 10.0
# The TLS handshake (ClientHello to Finished) must finish in this. It is 1-2 round
# trips and a few signatures; the trust question a person may answer comes after it
# (the client verifies once TLS is up). Precedent: asyncio's and nginx's
# `ssl_handshake_timeout` default to 60 s, a bound for any client on any link; ours
# are known to start the handshake at once.
TLS_HANDSHAKE_TIMEOUT_S = 10.0

# --- refused tokens: back-off per peer address (the server) ---------------------------
#
# Every token a peer presents counts against its IP address when it is presented (so
# parallel connections cannot all slip in before the first verdict); an accepted token
# clears the address. At AUTH_MAX_FAILURES the address is blocked for
# AUTH_BASE_BLOCK_SECONDS, and every further refused token doubles the block up to
# AUTH_MAX_BLOCK_SECONDS. While blocked, the server answers a request that carries a
# token with 429 + Retry-After without asking ValidateAuthenticationToken. The record
# survives the listen ending (it is the runtime's), and is forgotten after
# AUTH_FAILURE_WINDOW_SECONDS without a failure or a block.
#
# Tokens are generated secrets or signed JWTs, so this is not what keeps them from
# being guessed; it bounds the work (callback calls, listens ended) one address can
# cause, and makes a stale token obvious to its owner.

# Precedent: fail2ban's `maxretry` default (5); sshd's MaxAuthTries (6) allows a few
# more, but per connection. Five leaves room for a person trying a few tokens (an
# expired JWT, one for another audience, ...) before the right one.
AUTH_MAX_FAILURES = 5
# Precedent: fail2ban's `findtime` default (10 min): failures further apart than this
# are not one attempt at guessing.
AUTH_FAILURE_WINDOW_SECONDS = 600.0
# Short enough that a person who fixed the token file barely notices; doubled for each
# further refusal, as fail2ban's `bantime.increment` (1, 2, 4, 8, ... times the ban)
# and Dovecot's per-IP authentication penalty do.
AUTH_BASE_BLOCK_SECONDS = 30.0
# Precedent: fail2ban's `bantime` default (10 min), pam_faillock's `unlock_time`
# (600 s). Once the back-off has grown, at most 144 tokens a day from one address.
AUTH_MAX_BLOCK_SECONDS = 600.0

# --- transport (length-prefixed frames over TLS) --------------------------------------

# One frame: type (1 byte) | payload length (4 bytes, big-endian) | payload.
FRAME_HEADER_BYTES = 5
# Largest payload of any frame, data-channel messages included. Precedent: the
# `websockets` library's default max_size (1 MiB); HTTP/2 lets peers raise its frame
# size to 16 MiB but defaults to 16 KiB. 1 MiB bounds memory per connection.
MAX_FRAME_PAYLOAD = 1 << 20
# HELLO carries a version (2 bytes) and a session id of 43 characters; anything over
# this is not a HELLO.
MAX_HELLO_PAYLOAD = 2 + 128
# REJECT carries a code and a short text.
MAX_REJECT_PAYLOAD = 1 + 512
# Channel ids are 64-bit, as in XrRemotingDataChannelCreateInfoMSFT.channelId.
CHANNEL_ID_BYTES = 8

# One-time session id: 32 random bytes, base64url without padding (43 characters).
SESSION_ID_BYTES = 32
SESSION_ID_CHARS = 43


class FrameType(enum.IntEnum):
    HELLO = 0x01  # client -> server: version u16 | session id (ASCII)
    WELCOME = 0x02  # server -> client: version u16
    REJECT = 0x03  # server -> client: code u8 | UTF-8 text
    HEARTBEAT = 0x10  # either way, empty
    DISCONNECT = 0x11  # either way, empty: "please close"
    DATA = 0x20  # either way: channel id u64 | bytes
    CHANNEL_OPEN = 0x21  # either way: channel id u8 | priority u8 (docs/protocol.md)
    CHANNEL_ACCEPT = 0x22  # either way: channel id u8
    CHANNEL_CLOSE = 0x23  # either way: channel id u8 | closed reason u8


class RejectCode(enum.IntEnum):
    UNKNOWN_SESSION = 1  # unknown, used or expired session id
    VERSION = 2  # transport protocol version not supported
    BUSY = 3  # another session is already open


# Frames with no payload, and frames whose payload has a fixed small bound.
EMPTY_FRAMES = frozenset({FrameType.HEARTBEAT, FrameType.DISCONNECT})
# Data-channel control frames and their exact payload sizes.
CHANNEL_FRAME_SIZES = {
    FrameType.CHANNEL_OPEN: 2,
    FrameType.CHANNEL_ACCEPT: 1,
    FrameType.CHANNEL_CLOSE: 2,
}

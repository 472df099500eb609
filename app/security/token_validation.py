"""Server-side token checks: shared secrets, JWTs, and throttling of repeated
failures per peer.

Why these shapes: a shared secret is compared in constant time against *every*
accepted secret (no early exit, so timing does not reveal which one, or whether any,
matched). JWTs go through joserfc (a maintained JOSE library), with an explicit
algorithm allow-list so `none` and HMAC/public-key confusion cannot happen. The
throttle is a pure value with time passed in, so it is tested without sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InsecureClaimError,
    InvalidClaimError,
    InvalidTokenError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import ECKey, KeySet, OctKey, OKPKey, RSAKey

from app.security.errors import PolicyError, TokenRejected
from app.security.tokens import MAX_TOKEN_BYTES, MIN_SECRET_BITS

# RFC 7519 4.1.4 allows "some small leeway" for clock skew; a minute covers
# unsynchronised clocks, five is the most we allow.
DEFAULT_LEEWAY_SECONDS = 60
MAX_LEEWAY_SECONDS = 300
# A JWKS with more keys than this is not a real identity provider's key set.
MAX_JWKS_BYTES = 256 * 1024
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


@dataclass(frozen=True)
class SharedSecretValidator:
    """Accepts a token equal to any of `accepted` (e.g. the current and the next
    secret during a rotation)."""

    accepted: tuple[str, ...] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.accepted:
            raise PolicyError("no shared secret to accept", fix="give at least one token")
        for secret in self.accepted:
            if len(secret.encode("utf-8")) * 8 < MIN_SECRET_BITS // 2:
                raise PolicyError(
                    "an accepted shared secret is too short to resist guessing",
                    fix="use holoremote's generated secrets (at least 22 characters)",
                )

    def matches(self, token: str) -> bool:
        """Constant time: hashes make lengths equal, every secret is compared."""
        if len(token.encode("utf-8", "replace")) > MAX_TOKEN_BYTES:
            return False
        presented = _digest(token)
        found = 0
        for secret in self.accepted:
            found |= hmac.compare_digest(presented, _digest(secret))
        return bool(found)

    def validate(self, token: str) -> None:
        if not self.matches(token):
            raise TokenRejected("the token does not match any accepted shared secret")


JwtKey = KeySet | RSAKey | ECKey | OKPKey | OctKey


@dataclass(frozen=True)
class JwtValidator:
    """Validates a JWT (JWS compact form) against a key or key set, with issuer,
    audience, expiry, not-before and an algorithm allow-list."""

    key: JwtKey = field(repr=False)
    algorithms: tuple[str, ...]
    issuer: str | None = None
    audience: str | None = None
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS
    require_expiry: bool = True

    def __post_init__(self) -> None:
        if not self.algorithms:
            raise PolicyError("no JWT algorithm is allowed", fix="allow e.g. RS256 or ES256")
        if any(a.lower() == "none" for a in self.algorithms):
            raise PolicyError("the JWT algorithm 'none' is never accepted", fix="remove it")
        unknown = set(self.algorithms) - HMAC_ALGORITHMS - PUBLIC_KEY_ALGORITHMS
        if unknown:
            raise PolicyError(f"unknown JWT algorithm(s): {', '.join(sorted(unknown))}")
        symmetric = isinstance(self.key, OctKey)
        if symmetric and not set(self.algorithms) <= HMAC_ALGORITHMS:
            raise PolicyError("an HMAC secret can only check HS256/HS384/HS512 tokens")
        if not symmetric and set(self.algorithms) & HMAC_ALGORITHMS:
            raise PolicyError(
                "HMAC algorithms with a public key allow key-confusion attacks",
                fix="allow only RS*/PS*/ES*/EdDSA with a public key or JWKS",
            )
        if not 0 <= self.leeway_seconds <= MAX_LEEWAY_SECONDS:
            raise PolicyError(f"the JWT leeway must be 0..{MAX_LEEWAY_SECONDS} seconds")

    def validate(self, token: str, *, now: float) -> Mapping[str, Any]:
        """The claims, or `TokenRejected` naming the failed check (never the token)."""
        if len(token.encode("utf-8", "replace")) > MAX_TOKEN_BYTES:
            raise TokenRejected("the token is longer than the runtime allows")
        try:
            decoded = jwt.decode(token, self.key, algorithms=list(self.algorithms))
        except BadSignatureError:
            raise TokenRejected(
                "the JWT was refused: its signature does not verify with the configured key"
            ) from None
        except JoseError:
            raise TokenRejected(
                "the JWT was refused: it is malformed, or signed with an algorithm or key "
                f"that is not allowed (allowed: {', '.join(self.algorithms)})"
            ) from None
        except (ValueError, TypeError):
            raise TokenRejected("the token is not a well-formed JWT") from None
        options: dict[str, Any] = {
            "exp": {"essential": self.require_expiry},
            "nbf": {"essential": False},
        }
        if self.issuer is not None:
            options["iss"] = {"essential": True, "value": self.issuer}
        if self.audience is not None:
            options["aud"] = {"essential": True, "value": self.audience}
        registry = jwt.JWTClaimsRegistry(now=int(now), leeway=self.leeway_seconds, **options)
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise TokenRejected(f"the JWT claims were refused: {claims_refusal(exc)}") from None
        return MappingProxyType(dict(decoded.claims))


def claims_refusal(exc: JoseError) -> str:
    """Our words for joserfc's claim refusals, chosen by exception class and the
    claim it names (its texts differ between releases and are not an API; from 1.7
    on, InvalidTokenError is InvalidClaimError, told apart by the claim)."""
    claim = getattr(exc, "claim", None)
    named = f" '{claim}'" if isinstance(claim, str) and claim else ""
    if isinstance(exc, MissingClaimError):
        return f"the token lacks the required claim{named}"
    if isinstance(exc, ExpiredTokenError):
        return "the token has expired (exp)"
    not_yet = claim in ("nbf", "iat") or (
        InvalidTokenError is not InvalidClaimError and isinstance(exc, InvalidTokenError)
    )
    if not_yet:
        return "the token is not valid yet (nbf or iat lies in the future)"
    if isinstance(exc, InsecureClaimError):
        return f"the token holds the claim{named}, which it must not carry"
    if isinstance(exc, InvalidClaimError):
        return f"the token's claim{named} does not have the accepted value"
    return "a claim of the token was not accepted"


def jwt_key_from_jwks_file(path: str | os.PathLike[str]) -> KeySet:
    file = Path(path)
    try:
        if file.stat().st_size > MAX_JWKS_BYTES:
            raise PolicyError(f"{file}: over {MAX_JWKS_BYTES // 1024} KiB; not a JWKS file")
        data = json.loads(file.read_text(encoding="utf-8"))
        keys = KeySet.import_key_set(data)
    except OSError as exc:
        raise PolicyError(
            f"{file}: cannot be read ({exc.strerror})", fix="check the path"
        ) from None
    except (ValueError, TypeError, KeyError, AttributeError, JoseError):
        raise PolicyError(
            f"{file}: is not a JSON Web Key Set", fix="give the IdP's JWKS JSON"
        ) from None
    # A JWKS file is the issuer's public keys; a private (or symmetric) key in it means
    # the wrong file was given, and a signing key must not sit on the listener's disk.
    if any(key.is_private for key in keys.keys):
        raise PolicyError(
            f"{file}: holds a private key",
            fix="give the IdP's public JWKS (its jwks_uri document), not its signing keys",
        )
    return keys


def jwt_key_from_pem(pem: bytes, *, source: str) -> RSAKey | ECKey | OKPKey:
    # The key type is read with cryptography first and the matching joserfc class
    # imports it: older joserfc releases let RSAKey wrap an EC key without complaint.
    kind: type[RSAKey] | type[ECKey] | type[OKPKey] | None = None
    try:
        loaded = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        loaded = None
        if b"PRIVATE KEY" in pem:
            raise PolicyError(
                f"{source}: holds a private key", fix="give only the public key"
            ) from None
    if isinstance(loaded, rsa.RSAPublicKey):
        kind = RSAKey
    elif isinstance(loaded, ec.EllipticCurvePublicKey):
        kind = ECKey
    elif isinstance(loaded, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        kind = OKPKey
    if kind is not None:
        try:
            key = kind.import_key(pem)
        except (ValueError, TypeError, JoseError):
            key = None
        if key is not None:
            if key.is_private:
                raise PolicyError(f"{source}: holds a private key", fix="give only the public key")
            return key
    raise PolicyError(
        f"{source}: is not a PEM public key", fix="give the issuer's public key as PEM"
    )


def jwt_key_from_secret(secret: str) -> OctKey:
    if len(secret.encode("utf-8")) * 8 < 256:
        raise PolicyError(
            "an HMAC secret for JWTs needs at least 32 bytes", fix="use a longer secret"
        )
    return OctKey.import_key(secret.encode("utf-8"))


# ---- throttling ---------------------------------------------------------------

# After this many failures a peer is blocked; each further failure doubles the block,
# up to MAX_BLOCK_SECONDS (as fail2ban/sshd style back-off: a person who mistypes is
# barely slowed, guessing becomes useless). A peer is forgotten once it has been quiet
# (no failure, no block) for FAILURE_WINDOW_SECONDS. These are the defaults; a user
# of the throttle (the built-in runtime) may give its own.
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 60.0
BASE_BLOCK_SECONDS = 30.0
MAX_BLOCK_SECONDS = 900.0
# Peers tracked at once; the least recently active are forgotten first so memory
# stays bounded.
MAX_TRACKED_PEERS = 4096


@dataclass(frozen=True)
class _PeerRecord:
    failures: int
    last_failure: float
    blocked_until: float

    def quiet_since(self) -> float:
        return max(self.last_failure, self.blocked_until)


@dataclass(frozen=True)
class FailureThrottle:
    """Immutable: `record_failure` / `record_success` return a new throttle.

    The window is measured from the later of a peer's last failure and the end of its
    block, so a peer that fails again right after a block ends is blocked for twice as
    long (measured from its first failure, the count would start over after every
    block longer than the window, and the back-off would never grow). Records hold
    peers and times only, never what a peer presented."""

    peers: Mapping[str, _PeerRecord] = field(default_factory=lambda: MappingProxyType({}))
    max_failures: int = MAX_FAILURES
    window_seconds: float = FAILURE_WINDOW_SECONDS
    base_block_seconds: float = BASE_BLOCK_SECONDS
    max_block_seconds: float = MAX_BLOCK_SECONDS

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        if not 0 < self.base_block_seconds <= self.max_block_seconds:
            raise ValueError("the block times must satisfy 0 < base <= max")
        if self.window_seconds <= 0:
            raise ValueError("window_seconds must be positive")

    def blocked_for(self, peer: str, now: float) -> float:
        """Seconds `peer` must still wait (0 when it may try)."""
        record = self.peers.get(peer)
        return max(0.0, record.blocked_until - now) if record else 0.0

    def failures(self, peer: str, now: float) -> int:
        """Failures counted against `peer` (0 once it has been quiet for the window)."""
        record = self.peers.get(peer)
        if record is None or now - record.quiet_since() > self.window_seconds:
            return 0
        return record.failures

    def record_failure(self, peer: str, now: float) -> FailureThrottle:
        failures = self.failures(peer, now) + 1
        previous = self.peers.get(peer)
        blocked_until = previous.blocked_until if previous and failures > 1 else 0.0
        if failures >= self.max_failures:
            exponent = min(failures - self.max_failures, 32)  # 2**32 s is beyond any max
            block = min(self.base_block_seconds * 2**exponent, self.max_block_seconds)
            blocked_until = max(blocked_until, now + block)
        record = _PeerRecord(failures, now, blocked_until)
        updated = {k: v for k, v in self.peers.items() if k != peer}
        if len(updated) >= MAX_TRACKED_PEERS:
            oldest = min(updated, key=lambda k: updated[k].quiet_since())
            del updated[oldest]
        updated[peer] = record
        return replace(self, peers=MappingProxyType(updated))

    def record_success(self, peer: str) -> FailureThrottle:
        remaining = {k: v for k, v in self.peers.items() if k != peer}
        return replace(self, peers=MappingProxyType(remaining))


def validate_token_any(
    token: str, validators: Sequence[SharedSecretValidator | JwtValidator], *, now: float
) -> None:
    """Accept if any validator accepts; otherwise raise the last refusal."""
    last: TokenRejected = TokenRejected("no token validator is configured")
    for validator in validators:
        try:
            if isinstance(validator, JwtValidator):
                validator.validate(token, now=now)
            else:
                validator.validate(token)
        except TokenRejected as exc:
            last = exc
            continue
        return
    raise last

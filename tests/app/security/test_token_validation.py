from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from app.security.errors import PolicyError, TokenRejected
from app.security.token_validation import (
    MAX_FAILURES,
    FailureThrottle,
    JwtValidator,
    SharedSecretValidator,
    jwt_key_from_jwks_file,
    jwt_key_from_pem,
    jwt_key_from_secret,
    validate_token_any,
)
from app.security.tokens import generate_shared_secret

NOW = 1_800_000_000


def test_shared_secrets_accept_any_of_several() -> None:
    first, second = generate_shared_secret(), generate_shared_secret()
    validator = SharedSecretValidator((first, second))
    assert validator.matches(first) and validator.matches(second)
    assert not validator.matches(first[:-1]) and not validator.matches("")
    with pytest.raises(TokenRejected) as caught:
        validator.validate("wrong-token-value")
    assert "wrong-token-value" not in str(caught.value)
    assert first not in repr(validator)


def test_shared_secret_validator_refuses_bad_configuration() -> None:
    with pytest.raises(PolicyError):
        SharedSecretValidator(())
    with pytest.raises(PolicyError, match="too short"):
        SharedSecretValidator(("abc",))


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "k1"})


def _claims(**overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "iss": "https://idp.test",
        "aud": "holoremote",
        "exp": NOW + 300,
        "nbf": NOW - 10,
        "sub": "u",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _token(key: ECKey, **overrides: object) -> str:
    return jwt.encode({"alg": "ES256", "kid": "k1"}, _claims(**overrides), key)


def test_jwt_against_jwks_file(ec_key: ECKey, tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(KeySet([ec_key]).as_dict(private=False)))
    validator = JwtValidator(
        jwt_key_from_jwks_file(jwks), ("ES256",), issuer="https://idp.test", audience="holoremote"
    )
    assert validator.validate(_token(ec_key), now=NOW)["sub"] == "u"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"iss": "https://evil.test"}, "iss"),
        ({"aud": "other"}, "aud"),
        ({"exp": NOW - 120}, "expired"),
        ({"nbf": NOW + 600}, "not valid yet"),
        ({"exp": None}, "exp"),
    ],
)
def test_jwt_claim_checks(ec_key: ECKey, overrides: dict[str, object], expected: str) -> None:
    validator = JwtValidator(
        ECKey.import_key(ec_key.as_pem(private=False)),
        ("ES256",),
        issuer="https://idp.test",
        audience="holoremote",
    )
    token = _token(ec_key, **overrides)
    with pytest.raises(TokenRejected) as caught:
        validator.validate(token, now=NOW)
    assert expected in str(caught.value).lower() and token not in str(caught.value)


def test_jwt_leeway_allows_small_skew(ec_key: ECKey) -> None:
    validator = JwtValidator(ec_key, ("ES256",), leeway_seconds=60)
    validator.validate(_token(ec_key, exp=NOW - 30), now=NOW)


def test_jwt_with_pem_key_and_bad_signature(ec_key: ECKey) -> None:
    pem = ec_key.as_pem(private=False)
    validator = JwtValidator(jwt_key_from_pem(pem, source="idp.pem"), ("ES256",))
    other = ECKey.generate_key("P-256")
    with pytest.raises(TokenRejected, match="signature does not verify"):
        validator.validate(_token(other), now=NOW)
    with pytest.raises(PolicyError, match="holds a private key"):
        jwt_key_from_pem(ec_key.as_pem(private=True), source="idp.pem")


def test_jwt_hmac_secret() -> None:
    secret = generate_shared_secret(256) + "x" * 10
    key = jwt_key_from_secret(secret)
    token = jwt.encode({"alg": "HS256"}, _claims(), key)
    JwtValidator(key, ("HS256",), issuer="https://idp.test").validate(token, now=NOW)
    with pytest.raises(PolicyError, match="32 bytes"):
        jwt_key_from_secret("short")


def test_alg_none_and_confusion_are_refused(ec_key: ECKey) -> None:
    with pytest.raises(PolicyError, match="'none'"):
        JwtValidator(ec_key, ("none",))
    with pytest.raises(PolicyError, match="key-confusion"):
        JwtValidator(ec_key, ("ES256", "HS256"))
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenRejected):
        JwtValidator(ec_key, ("ES256",)).validate(f"{header}.{body}.", now=NOW)


def test_not_a_jwt_is_rejected(ec_key: ECKey) -> None:
    with pytest.raises(TokenRejected):
        JwtValidator(ec_key, ("ES256",)).validate("garbage", now=NOW)


def test_validate_any_tries_each(ec_key: ECKey) -> None:
    secret = generate_shared_secret()
    validators = [SharedSecretValidator((secret,)), JwtValidator(ec_key, ("ES256",))]
    validate_token_any(secret, validators, now=NOW)
    validate_token_any(_token(ec_key), validators, now=NOW)
    with pytest.raises(TokenRejected):
        validate_token_any("nope", validators, now=NOW)


def test_throttle_blocks_after_repeated_failures_and_backs_off() -> None:
    throttle = FailureThrottle()
    now = 1000.0
    for _ in range(MAX_FAILURES - 1):
        throttle = throttle.record_failure("10.0.0.1", now)
    assert throttle.blocked_for("10.0.0.1", now) == 0
    throttle = throttle.record_failure("10.0.0.1", now)
    assert throttle.blocked_for("10.0.0.1", now) == 30
    throttle = throttle.record_failure("10.0.0.1", now + 1)
    assert throttle.blocked_for("10.0.0.1", now + 1) == 60
    assert throttle.blocked_for("10.0.0.2", now) == 0
    assert throttle.blocked_for("10.0.0.1", now + 61) == 0
    assert throttle.record_success("10.0.0.1").blocked_for("10.0.0.1", now + 1) == 0


def test_throttle_forgets_failures_outside_the_window() -> None:
    throttle = FailureThrottle()
    for step in range(MAX_FAILURES * 2):
        throttle = throttle.record_failure("p", 1000.0 + step * 61)
    assert throttle.blocked_for("p", 1000.0 + MAX_FAILURES * 2 * 61) == 0

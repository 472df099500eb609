"""app.endpoint.providers: the callback providers both front ends use, from plain settings.

Bad files and contradictions are refused when the settings or providers are built,
naming the setting (renamed by each front end) and never a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from joserfc.jwk import ECKey, KeySet
from joserfc.jwt import encode

from app import defaults
from app.endpoint import providers
from app.endpoint.providers import ClientAuthSettings, ServerAuthSettings, SettingsError
from app.errors import InputError
from app.security.acceptance import RUNTIME_ONLY
from app.security.known_hosts import load_known_hosts
from app.security.testpki import GeneratedPki
from app.xr.callback_types import CertificateValidationRequest
from app.xr.validation_result import ValidationResult
from app.xr.values import CertificateNameValidationResult as Name
from tests.app.remoting.conftest import other_pki, pki
from tests.app.remoting.remoting_support import chain_der

__all__ = ["other_pki", "pki"]

SECRET = "a-shared-secret-long-enough-to-accept"
PASSPHRASE_MARK = "wrong-passphrase-that-must-not-leak"


def _server(pki: GeneratedPki, tmp_path: Path, **changes: object) -> ServerAuthSettings:
    store = tmp_path / "server.pfx"
    store.write_bytes(pki.pfx)
    values: dict[str, object] = {
        "store_path": str(store),
        "passphrase": pki.passphrase,
        "shared_secrets": (SECRET,),
    }
    values.update(changes)
    return ServerAuthSettings(**values)  # type: ignore[arg-type]


def _no_secret_in(error: BaseException, *secrets: str) -> None:
    text = f"{error} {error!r} {getattr(error, 'fix', '')}"
    for secret in secrets:
        assert secret not in text


# --- server settings ------------------------------------------------------------------


def test_the_server_providers_hand_over_the_store_and_check_tokens(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    settings = _server(pki, tmp_path)
    material = providers.server_certificate_provider(settings)()
    assert material.cert_store == pki.pfx and material.subject_name == pki.friendly_name
    validate = providers.token_validator(settings)
    assert validate(SECRET) is True
    assert validate("something-else-entirely-and-long") is False


def test_secrets_are_not_in_the_repr(pki: GeneratedPki, tmp_path: Path) -> None:
    server = _server(pki, tmp_path)
    client = ClientAuthSettings(token=SECRET)
    for text in (repr(server), repr(client)):
        assert SECRET not in text and pki.passphrase not in text


def test_a_missing_store_names_the_setting_and_the_path(tmp_path: Path, pki: GeneratedPki) -> None:
    missing = tmp_path / "nope.pfx"
    settings = _server(pki, tmp_path, store_path=str(missing))
    with pytest.raises(SettingsError) as caught:
        providers.server_certificate_provider(settings)
    assert caught.value.setting == "store_path"
    assert str(missing) in caught.value.message and caught.value.fix
    _no_secret_in(caught.value, pki.passphrase, SECRET)


def test_no_store_at_all_is_refused_when_built() -> None:
    with pytest.raises(SettingsError) as caught:
        ServerAuthSettings(store_path="", shared_secrets=(SECRET,))
    assert caught.value.setting == "store_path"
    assert "certificate store" in caught.value.message


def test_a_wrong_passphrase_is_refused_naming_the_store_not_the_passphrase(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    settings = _server(pki, tmp_path, passphrase=PASSPHRASE_MARK)
    with pytest.raises(SettingsError) as caught:
        providers.server_certificate_provider(settings)
    assert caught.value.setting == "store_path"
    assert "server.pfx" in caught.value.message
    _no_secret_in(caught.value, PASSPHRASE_MARK, pki.passphrase, SECRET)


def test_an_unknown_subject_name_lists_the_names_present(pki: GeneratedPki, tmp_path: Path) -> None:
    settings = _server(pki, tmp_path, subject_name="no-such-certificate")
    with pytest.raises(SettingsError) as caught:
        providers.server_certificate_provider(settings)
    assert caught.value.setting == "subject_name"
    assert pki.friendly_name in caught.value.message


def test_a_missing_jwks_file_names_the_jwt_key(pki: GeneratedPki, tmp_path: Path) -> None:
    missing = tmp_path / "jwks.json"
    settings = _server(pki, tmp_path, shared_secrets=(), jwt_key_path=str(missing))
    with pytest.raises(SettingsError) as caught:
        providers.token_validator(settings)
    assert caught.value.setting == "jwt_key_path"
    assert str(missing) in caught.value.message


def test_jwt_claims_without_a_key_and_no_token_at_all_are_contradictions(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    with pytest.raises(SettingsError) as claims:
        _server(pki, tmp_path, jwt_issuer="https://idp.example")
    assert claims.value.setting == "jwt_key_path"
    with pytest.raises(SettingsError) as nothing:
        _server(pki, tmp_path, shared_secrets=())
    assert nothing.value.setting == "shared_secrets"


def test_a_short_shared_secret_is_refused_without_echoing_it(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    settings = _server(pki, tmp_path, shared_secrets=("short1",))
    with pytest.raises(SettingsError) as caught:
        providers.token_validator(settings)
    assert caught.value.setting == "shared_secrets"
    _no_secret_in(caught.value, "short1")


def test_jwts_from_a_jwks_and_shared_secrets_are_both_accepted(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    key = ECKey.generate_key("P-256", parameters={"kid": "k1"})
    jwks = tmp_path / "keys.json"
    jwks.write_text(json.dumps(KeySet([key]).as_dict(private=False)))
    settings = _server(pki, tmp_path, jwt_key_path=str(jwks), jwt_issuer="https://idp")
    validate = providers.token_validator(settings)
    token = encode({"alg": "ES256", "kid": "k1"}, {"iss": "https://idp", "exp": 2**31}, key)
    assert validate(token) is True and validate(SECRET) is True
    wrong = encode({"alg": "ES256", "kid": "k1"}, {"iss": "https://other", "exp": 2**31}, key)
    assert validate(wrong) is False


# --- client settings ------------------------------------------------------------------


def test_trust_on_first_use_without_a_file_uses_the_per_user_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One known-hosts file for both faces (the command line used to refuse instead;
    tests/app/commands/test_connect_trust_and_jwt.py says why the default is right)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    settings = ClientAuthSettings(token=SECRET, trust_on_first_use=True)
    assert settings.known_hosts_path == defaults.known_hosts_file()
    assert settings.known_hosts_path == tmp_path / "holoremote" / "known_hosts"
    assert settings.policy().known_hosts == settings.known_hosts_path
    given = ClientAuthSettings(token=SECRET, trust_on_first_use=True, known_hosts="kh")
    assert given.known_hosts_path == Path("kh")
    assert ClientAuthSettings(token=SECRET).known_hosts_path is None


def test_contradictory_client_settings_are_refused_when_built(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as both:
        ClientAuthSettings(
            token=SECRET, pins=("SHA256:" + "ab" * 32,), known_hosts=str(tmp_path / "kh")
        )
    assert both.value.setting == "policy"
    with pytest.raises(SettingsError) as bad_pin:
        ClientAuthSettings(token=SECRET, pins=("not-a-pin",))
    assert bad_pin.value.setting == "pins"
    for error in (both.value, bad_pin.value):
        _no_secret_in(error, SECRET)


def test_front_ends_rename_the_settings_in_messages_and_fixes() -> None:
    with pytest.raises(SettingsError) as caught:
        ServerAuthSettings(store_path="server.pfx")
    named = caught.value.named({"shared_secrets": "--token-file", "jwt_key_path": "--jwks"})
    assert isinstance(named, InputError) and named.subject == "--token-file"
    assert named.message.startswith("--token-file: ")
    assert named.fix == "give --token-file (generate one), or --jwks to accept JWTs"


def test_a_client_without_a_token_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        providers.client_providers(ClientAuthSettings(), 8265)
    assert caught.value.setting == "token"


def test_a_missing_ca_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    settings = ClientAuthSettings(token=SECRET, ca_file=str(missing))
    with pytest.raises(SettingsError) as caught:
        providers.certificate_validator(settings, 8265)
    assert caught.value.setting == "ca_file" and str(missing) in caught.value.message
    with pytest.raises(SettingsError):
        providers.builtin_options("remote", ca_file=str(missing))


def test_the_validator_uses_the_ca_file_and_keeps_the_runtime_result_otherwise(
    pki: GeneratedPki, other_pki: GeneratedPki, tmp_path: Path
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.ca_pem)
    validate = providers.certificate_validator(ClientAuthSettings(ca_file=str(ca)), 8265)
    accepted = validate(CertificateValidationRequest("127.0.0.1", False, chain_der(pki), None))
    assert accepted.trusted_root and accepted.name_mismatch == Name.MATCH
    refused = validate(CertificateValidationRequest("127.0.0.1", False, chain_der(other_pki), None))
    assert not refused.trusted_root
    # Without a CA file the runtime's system result decides, with our reasons beside.
    runtime = ValidationResult(trusted_root=True, name_mismatch=Name.MATCH)
    plain = providers.certificate_validator(ClientAuthSettings(), 8265)
    verdict = plain(CertificateValidationRequest("127.0.0.1", False, chain_der(pki), runtime))
    assert verdict.trusted_root and verdict.reasons["trustedRoot"].startswith(RUNTIME_ONLY)


def test_trust_on_first_use_asks_and_remembers(pki: GeneratedPki, tmp_path: Path) -> None:
    known = tmp_path / "new-folder" / "known_hosts"
    settings = ClientAuthSettings(known_hosts=str(known), trust_on_first_use=True)
    questions: list[object] = []

    def refuse(question: object) -> bool:
        questions.append(question)
        return False

    request = CertificateValidationRequest("127.0.0.1", False, chain_der(pki), None)
    refused = providers.certificate_validator(settings, 8265, ask=refuse)(request)
    assert len(questions) == 1 and not refused.trusted_root and not known.exists()
    validate = providers.certificate_validator(settings, 8265, ask=lambda _q: True)
    learned = validate(request)
    assert learned.trusted_root
    assert any("trusted on first use" in w for w in learned.warnings)
    assert load_known_hosts(known).get("127.0.0.1:8265") == pki.sha256_thumbprint.lower()
    # Known now: accepted without asking again.
    again = providers.certificate_validator(settings, 8265, ask=refuse)(request)
    assert again.trusted_root and len(questions) == 1


def test_known_hosts_without_trust_on_first_use_refuses_unknown_servers(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    validate = providers.certificate_validator(ClientAuthSettings(known_hosts=str(known)), 8265)
    verdict = validate(CertificateValidationRequest("127.0.0.1", False, chain_der(pki), None))
    assert (
        not verdict.trusted_root and "trust on first use is off" in verdict.reasons["trustedRoot"]
    )


def test_bad_timeouts_name_the_timeouts() -> None:
    with pytest.raises(SettingsError) as caught:
        providers.builtin_options("remote", handshake_timeout=-1)
    assert caught.value.setting == "timeouts"

"""Property tests of every file loader (hypothesis; profiles in tests/conftest.py):
random and mutated PKCS#12, PEM and DER chains, CRLs, known-hosts files and JWKS
files never raise anything but the loader's own error type, and never accept what
they must refuse (a tampered PKCS#12, a CRL whose signature no longer holds, a
known-hosts line that is not `host:port sha256-hex`, a private key in a JWKS).
Certificates are made by the test (testpki)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import KeySet

from app.errors import InputError
from app.security.certstore import load_certificate_store
from app.security.chain_file import revocation_options
from app.security.errors import CertificateFileError, PolicyError
from app.security.known_hosts import load_known_hosts
from app.security.testpki import GeneratedPki, create_test_pki
from app.security.token_validation import jwt_key_from_jwks_file

# Each example writes a file into the one tmp_path of the test (function-scoped
# fixtures are shared by a test's examples; that is what these tests want).
file_settings = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def pki() -> GeneratedPki:
    return create_test_pki(["localhost"], ["127.0.0.1"], intermediate=True)


def mutations(base: bytes, max_edits: int = 6) -> st.SearchStrategy[bytes]:
    """`base` with bytes replaced, inserted, deleted, or cut short."""
    edit = st.tuples(st.integers(0, max(0, len(base) - 1)), st.integers(0, 255), st.integers(0, 3))

    def apply(changes: list[tuple[int, int, int]]) -> bytes:
        data = bytearray(base)
        for position, value, kind in changes:
            position = min(position, len(data))
            if kind == 0 and position < len(data):
                data[position] ^= value or 1  # always a change
            elif kind == 1:
                data.insert(position, value)
            elif kind == 2 and position < len(data):
                del data[position]
            else:
                del data[position:]
        return bytes(data)

    return st.lists(edit, min_size=1, max_size=max_edits).map(apply)


# --- PKCS#12, PEM and DER stores ------------------------------------------------------


def store_inputs(pki: GeneratedPki) -> st.SearchStrategy[bytes]:
    key_pem = pki.server.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return st.one_of(
        st.binary(max_size=4096),
        mutations(pki.pfx),
        mutations(pki.chain_pem + key_pem),
        mutations(pki.server.der),
        st.builds(
            lambda a, b: a + b, st.just(b"-----BEGIN CERTIFICATE-----\n"), st.binary(max_size=512)
        ),
    )


@given(data=st.data())
def test_certificate_store_refuses_with_its_own_error(
    pki: GeneratedPki, data: st.DataObject
) -> None:
    blob = data.draw(store_inputs(pki))
    passphrase = data.draw(st.sampled_from([pki.passphrase, None, "wrong"]))
    try:
        store = load_certificate_store(blob, passphrase, source="fuzzed")
    except CertificateFileError as exc:
        assert str(exc).startswith("fuzzed")
        return
    # Accepted: then every key it holds belongs to its certificate.
    for entry in store.entries:
        if entry.private_key is not None:
            assert entry.private_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ) == entry.certificate.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )


@given(blob=st.data())
def test_a_tampered_pkcs12_never_loads_other_content(
    pki: GeneratedPki, blob: st.DataObject
) -> None:
    """The PKCS#12 MAC covers its content: a changed file is refused, or (a change the
    MAC does not cover, such as its own encoding) yields exactly the same store."""
    changed = blob.draw(mutations(pki.pfx))
    try:
        store = load_certificate_store(changed, pki.passphrase, source="fuzzed")
    except CertificateFileError:
        return
    original = load_certificate_store(pki.pfx, pki.passphrase, source="original")
    assert [e.certificate for e in store.entries] == [e.certificate for e in original.entries]


# --- CRLs -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crl(pki: GeneratedPki) -> x509.CertificateRevocationList:
    """One CRL for every example (a new signature each time would change its length,
    and the examples with it)."""
    issuer = pki.intermediate or pki.ca
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=7))
        .add_extension(x509.CRLNumber(1), critical=False)
        .sign(issuer.private_key, hashes.SHA256())  # type: ignore[arg-type]
    )


@file_settings
@given(data=st.data())
def test_crl_files_refuse_with_input_error_and_keep_signatures(
    pki: GeneratedPki, crl: x509.CertificateRevocationList, tmp_path: Path, data: st.DataObject
) -> None:
    der = crl.public_bytes(serialization.Encoding.DER)
    pem = crl.public_bytes(serialization.Encoding.PEM)
    blob = data.draw(st.one_of(st.binary(max_size=2048), mutations(der), mutations(pem)))
    path = tmp_path / "fuzzed.crl"
    path.write_bytes(blob)
    try:
        options = revocation_options([str(path)])
    except InputError as exc:
        assert str(path) in str(exc)
        return
    issuer = (pki.intermediate or pki.ca).certificate
    for parsed in options.crls:
        if parsed.public_bytes(serialization.Encoding.DER) != der:
            # Anything that parses but is not the CRL the CA signed must not verify.
            assert not parsed.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]


# --- known hosts ----------------------------------------------------------------------

KNOWN_LINE = re.compile(r"^\S+:\d{1,5}$")
VALID_KNOWN_HOSTS = (
    b"# holoremote known hosts\n"
    b"studio-3.lab:8265 " + b"ab" * 32 + b"\n"
    b"[fe80::1]:8265 " + b"CD" * 32 + b"\n"
)


@file_settings
@given(blob=st.one_of(st.binary(max_size=2048), mutations(VALID_KNOWN_HOSTS)))
def test_known_hosts_accepts_only_well_formed_lines(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "known_hosts"
    path.write_bytes(blob)
    try:
        known = load_known_hosts(path)
    except CertificateFileError as exc:
        assert str(path) in str(exc)
        return
    for endpoint, digest in known.entries.items():
        assert KNOWN_LINE.match(endpoint), endpoint
        assert re.fullmatch(r"[0-9a-f]{64}", digest), digest


# --- JWKS -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_jwks() -> bytes:
    """One public JWKS for every example (a new key each time would change the
    examples' lengths and with them hypothesis's choices)."""
    public = KeySet.generate_key_set("EC", "P-256").as_dict(private=False)
    return json.dumps(public).encode()


def jwks_documents(good: bytes) -> st.SearchStrategy[bytes]:
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    )
    return st.one_of(
        st.binary(max_size=1024),
        mutations(good),
        json_values.map(lambda v: json.dumps({"keys": [v]}).encode()),
        json_values.map(lambda v: json.dumps(v).encode()),
    )


@file_settings
@given(data=st.data())
def test_jwks_files_refuse_with_policy_error(
    good_jwks: bytes, tmp_path: Path, data: st.DataObject
) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(data.draw(jwks_documents(good_jwks)))
    try:
        keys = jwt_key_from_jwks_file(path)
    except PolicyError as exc:
        assert str(path) in str(exc)
        return
    assert isinstance(keys, KeySet)
    assert not any(key.is_private for key in keys.keys)


def test_a_jwks_with_a_private_key_is_refused(tmp_path: Path) -> None:
    """A JWKS file is the issuer's public keys; a private one means the wrong file was
    given (and it must not sit on the listener's disk)."""
    private = KeySet.generate_key_set("EC", "P-256").as_dict(private=True)
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(private))
    with pytest.raises(PolicyError, match="private key"):
        jwt_key_from_jwks_file(path)

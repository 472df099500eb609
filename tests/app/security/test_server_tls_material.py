from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography import x509

from app.security.certstore import (
    load_certificate_store,
    select_server_certificate,
    server_tls_material,
)
from app.security.errors import CertificateFileError
from app.security.testpki import GeneratedPki


def test_select_by_friendly_name_then_common_name(pki: GeneratedPki) -> None:
    store = load_certificate_store(pki.pfx, "correct horse", source="server.pfx")
    assert select_server_certificate(store, "holo-server").certificate == pki.server.certificate
    assert select_server_certificate(store, "SERVER.test").certificate == pki.server.certificate


def test_unknown_subject_lists_names_present(pki: GeneratedPki) -> None:
    store = load_certificate_store(pki.pfx, "correct horse", source="server.pfx")
    with pytest.raises(CertificateFileError) as caught:
        select_server_certificate(store, "nope")
    message = str(caught.value)
    assert "server.pfx" in message and "'nope'" in message
    assert "'holo-server'" in message and "'server.test'" in message


def test_chain_is_leaf_first_in_issuer_order_and_loads_into_ssl(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    chain_pem, key_pem = server_tls_material(pki.pfx, "correct horse", "holo-server")
    chain = x509.load_pem_x509_certificates(chain_pem)
    assert [c.subject for c in chain] == [c.subject for c in pki.chain]
    (tmp_path / "chain.pem").write_bytes(chain_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "chain.pem", tmp_path / "key.pem")

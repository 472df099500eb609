"""Certificate factory for the tests: every knob a path-validation case needs, so
each test builds exactly the chain it talks about (and breaks only one thing)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
DEFAULT = object()


@dataclass(frozen=True)
class Made:
    cert: x509.Certificate
    key: Any

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def name(cn: str | None) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])


def issue(
    cn: str | None,
    *,
    key: Any,
    issuer: Made | None = None,
    ca: bool = False,
    path_length: int | None = None,
    dns: Sequence[str] = (),
    ips: Sequence[str] = (),
    san: bool | None = None,
    eku: Sequence[x509.ObjectIdentifier] | None = (SERVER_AUTH,),
    key_usage: Any = DEFAULT,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ski: bool = True,
    aki: Any = DEFAULT,
    crl_url: str | None = None,
    ocsp_url: str | None = None,
    serial: int | None = None,
    hash_algorithm: hashes.HashAlgorithm | None = None,
    basic_constraints: bool = True,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> Made:
    subject = name(cn)
    signer = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if basic_constraints:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True
        )
    if key_usage is DEFAULT:
        key_usage = (
            x509.KeyUsage(True, False, False, False, False, True, True, False, False)
            if ca
            else x509.KeyUsage(
                True,
                False,
                isinstance(key, rsa.RSAPrivateKey),
                False,
                False,
                False,
                False,
                False,
                False,
            )
        )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    if eku is not None and not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    if san if san is not None else bool(names):
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if ski:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    if aki is DEFAULT:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key())
    if aki is not None:
        builder = builder.add_extension(aki, critical=False)
    if crl_url:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(crl_url)], None, None, None
                    )
                ]
            ),
            critical=False,
        )
    if ocsp_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
                    )
                ]
            ),
            critical=False,
        )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    algorithm = hash_algorithm or hashes.SHA256()
    return Made(builder.sign(signer, algorithm), key)


# ---- DER surgery for a v1 certificate (cryptography only builds v3) -------------


def _tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    """(header length, content length, total length) of the TLV at offset."""
    first = data[offset + 1]
    if first < 0x80:
        return 2, first, 2 + first
    count = first & 0x7F
    length = int.from_bytes(data[offset + 2 : offset + 2 + count], "big")
    return 2 + count, length, 2 + count + length


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _sequence(body: bytes) -> bytes:
    return b"\x30" + _der_length(len(body)) + body


def make_v1(
    cn: str, *, key: Any, issuer: Made | None, not_before: dt.datetime, not_after: dt.datetime
) -> Made:
    """A version 1 certificate (no extensions), signed by `issuer` (self if None)."""
    template = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(issuer.cert.subject if issuer else name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(issuer.key if issuer else key, hashes.SHA256())
    )
    tbs = template.tbs_certificate_bytes
    header, _, _ = _tlv(tbs, 0)
    body = tbs[header:]
    assert body[0] == 0xA0  # [0] EXPLICIT version
    _, _, version_len = _tlv(body, 0)
    new_tbs = _sequence(body[version_len:])
    der = template.public_bytes(serialization.Encoding.DER)
    outer_header, _, _ = _tlv(der, 0)
    _, _, tbs_total = _tlv(der, outer_header)
    alg_start = outer_header + tbs_total
    _, _, alg_total = _tlv(der, alg_start)
    algorithm = der[alg_start : alg_start + alg_total]
    signer = issuer.key if issuer else key
    if isinstance(signer, ec.EllipticCurvePrivateKey):
        signature = signer.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    else:
        signature = signer.sign(new_tbs, padding.PKCS1v15(), hashes.SHA256())
    bit_string = b"\x03" + _der_length(len(signature) + 1) + b"\x00" + signature
    cert = x509.load_der_x509_certificate(_sequence(new_tbs + algorithm + bit_string))
    assert cert.version == x509.Version.v1
    return Made(cert, key)


def resign_with_serial(made: Made, serial: int, signer: Any) -> Made:
    """`made` with its serialNumber replaced by `serial` (any integer, even 0 or
    negative, which cryptography's builder refuses), re-signed by `signer`."""
    der = made.cert.public_bytes(serialization.Encoding.DER)
    tbs = made.cert.tbs_certificate_bytes
    header, _, _ = _tlv(tbs, 0)
    body = tbs[header:]
    _, _, version_len = _tlv(body, 0)
    _, _, serial_len = _tlv(body, version_len)
    raw = serial.to_bytes(max(1, (serial.bit_length() + 8) // 8), "big", signed=True)
    integer = b"\x02" + _der_length(len(raw)) + raw
    new_tbs = _sequence(body[:version_len] + integer + body[version_len + serial_len :])
    outer_header, _, _ = _tlv(der, 0)
    _, _, tbs_total = _tlv(der, outer_header)
    alg_start = outer_header + tbs_total
    _, _, alg_total = _tlv(der, alg_start)
    algorithm = der[alg_start : alg_start + alg_total]
    if isinstance(signer, ec.EllipticCurvePrivateKey):
        signature = signer.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    else:
        signature = signer.sign(new_tbs, padding.PKCS1v15(), hashes.SHA256())
    bit_string = b"\x03" + _der_length(len(signature) + 1) + b"\x00" + signature
    return Made(
        x509.load_der_x509_certificate(_sequence(new_tbs + algorithm + bit_string)), made.key
    )

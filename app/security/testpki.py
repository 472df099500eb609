"""A throw-away PKI for trying secure connections: a CA, optionally an intermediate,
and a server certificate for given host names and IPs.

Why: the Microsoft docs ask for a PKCS#12 store with a friendly name, a CA the
client trusts (or a thumbprint it pins), and a server certificate with serverAuth
and the right SANs. People get these wrong by hand; this makes a correct set in one
call, as an immutable value (`GeneratedPki`), and `write()` puts the files where
`holoremote listen` / `connect` and the Microsoft sample expect them.

ECDSA P-256 is the default key type because it is fast to generate (tests make many)
and every TLS 1.2/1.3 stack accepts it; RSA-2048 is there for old peers.
"""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import segno
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.security.thumbprints import colon_hex, sha1_thumbprint, sha256_pin, sha256_thumbprint

KeyType = Literal["ecdsa", "rsa"]
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

DEFAULT_VALIDITY_DAYS = 30
# CA/Browser Forum baseline requirements cap server certificates at 398 days; a
# test PKI has no reason to outlive that, and a short life limits a leaked key.
MAX_VALIDITY_DAYS = 398
# Backdate notBefore a little so a peer whose clock runs slightly behind accepts it.
CLOCK_SKEW_ALLOWANCE = dt.timedelta(minutes=5)
# PBKDF2 rounds for the .pfx: high enough to slow guessing, low enough to open fast.
PKCS12_KDF_ROUNDS = 50_000
PASSPHRASE_BYTES = 18  # 144 bits, 24 URL-safe characters
DEFAULT_FRIENDLY_NAME = "holoremote-server"


def generate_private_key(key_type: KeyType = "ecdsa") -> SigningKey:
    """A fresh key: ECDSA P-256 (fast) or RSA-2048 (exponent 65537)."""
    if key_type == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown key type {key_type!r}; use 'ecdsa' or 'rsa'")


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate and the private key that goes with it."""

    certificate: x509.Certificate
    private_key: SigningKey = field(repr=False)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "holoremote test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _serial() -> int:
    # 159 random bits: positive, at most 20 octets (RFC 5280 4.1.2.2), and more than
    # the 64 bits of entropy the CA/B Forum asks for.
    return secrets.randbits(159) | 1


def _key_identifiers(
    builder: x509.CertificateBuilder,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    issuer: IssuedCertificate | None,
) -> x509.CertificateBuilder:
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
    )
    if issuer is not None:
        ski = issuer.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value),
            critical=False,
        )
    return builder


def make_ca(
    common_name: str,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    key: SigningKey | None = None,
    issuer: IssuedCertificate | None = None,
    path_length: int | None = None,
) -> IssuedCertificate:
    """A CA certificate: self-signed root when `issuer` is None, else an intermediate.

    Carries basicConstraints CA (critical), keyCertSign + cRLSign, SKI and (for an
    intermediate) AKI, which is what WebPKI verifiers require of issuers."""
    key = key or generate_private_key()
    subject = _name(common_name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    builder = _key_identifiers(builder, key.public_key(), issuer)
    signer = issuer.private_key if issuer else key
    return IssuedCertificate(builder.sign(signer, hashes.SHA256()), key)


def make_server_certificate(
    issuer: IssuedCertificate,
    *,
    hosts: Sequence[str],
    ips: Sequence[str] = (),
    not_before: dt.datetime,
    not_after: dt.datetime,
    key: SigningKey | None = None,
    common_name: str | None = None,
) -> IssuedCertificate:
    """A TLS server (leaf) certificate: SANs for every host and IP, serverAuth EKU,
    digitalSignature (+ keyEncipherment for RSA), CA:false, SKI/AKI.

    The CN repeats the first name for old tools' display only; verifiers take names
    from the SANs alone."""
    if not hosts and not ips:
        raise ValueError("a server certificate needs at least one host name or IP address")
    key = key or generate_private_key()
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    cn = common_name or (hosts[0] if hosts else ips[0])
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
    )
    builder = _key_identifiers(builder, key.public_key(), issuer)
    return IssuedCertificate(builder.sign(issuer.private_key, hashes.SHA256()), key)


def export_pkcs12(
    leaf: IssuedCertificate,
    chain: Sequence[x509.Certificate],
    *,
    friendly_name: str,
    passphrase: str,
) -> bytes:
    """PKCS#12 with the leaf, its key and the chain; AES-256/PBKDF2-SHA256 (PBES2),
    HMAC-SHA256 MAC: what Windows 10 1709+, OpenSSL 3 and cryptography all open."""
    encryption: serialization.KeySerializationEncryption
    if not passphrase:
        encryption = serialization.NoEncryption()
    else:
        encryption = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(PKCS12_KDF_ROUNDS)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(passphrase.encode())
        )
    return pkcs12.serialize_key_and_certificates(
        friendly_name.encode(), leaf.private_key, leaf.certificate, list(chain), encryption
    )


def generate_passphrase() -> str:
    return secrets.token_urlsafe(PASSPHRASE_BYTES)


@dataclass(frozen=True)
class GeneratedPki:
    """Everything `create_test_pki` made. Immutable; secrets are kept out of repr."""

    ca: IssuedCertificate
    intermediate: IssuedCertificate | None
    server: IssuedCertificate
    friendly_name: str
    passphrase: str = field(repr=False)
    pfx: bytes = field(repr=False)

    @property
    def ca_pem(self) -> bytes:
        return self.ca.pem

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Leaf first, then the intermediate (if any), then the root."""
        middle = (self.intermediate.certificate,) if self.intermediate else ()
        return (self.server.certificate, *middle, self.ca.certificate)

    @property
    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    @property
    def sha256_thumbprint(self) -> str:
        return sha256_thumbprint(self.server.certificate)

    @property
    def sha1_thumbprint(self) -> str:
        return sha1_thumbprint(self.server.certificate)

    @property
    def pin(self) -> str:
        """`SHA256:<hex>`, what a client passes as `--pin`."""
        return sha256_pin(self.server.certificate)

    def qr_text(self) -> str:
        """The pin as a QR code drawn with block characters, for a terminal."""
        out = io.StringIO()
        segno.make(self.pin, error="m").terminal(out=out, compact=True)
        return out.getvalue()

    def qr_ascii(self) -> str:
        """The same QR code in ASCII only ('##' per dark module), for a console whose
        encoding has no block characters (a redirected cp1252 console on Windows)."""
        rows = segno.make(self.pin, error="m").matrix_iter(scale=1, border=2)
        return "".join("".join("##" if dark else "  " for dark in row) + "\n" for row in rows)

    def thumbprint_text(self) -> str:
        return (
            f"pin: {self.pin}\n"
            f"SHA-256: {colon_hex(self.sha256_thumbprint)}\n"
            f"SHA-1 (Windows thumbprint): {self.sha1_thumbprint}\n"
        )

    def write(self, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
        """Write server.pfx, ca.pem, chain.pem, thumbprint.txt, thumbprint-qr.txt and
        thumbprint-qr.svg into `out_dir` (created if missing). The .pfx is written
        with mode 0600: it holds the private key. Returns name -> path."""
        directory = Path(out_dir)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {
            "pfx": directory / "server.pfx",
            "ca": directory / "ca.pem",
            "chain": directory / "chain.pem",
            "thumbprint": directory / "thumbprint.txt",
            "qr_text": directory / "thumbprint-qr.txt",
            "qr_svg": directory / "thumbprint-qr.svg",
        }
        write_private_file(paths["pfx"], self.pfx)
        paths["ca"].write_bytes(self.ca_pem)
        paths["chain"].write_bytes(self.chain_pem)
        paths["thumbprint"].write_text(self.thumbprint_text(), encoding="utf-8")
        paths["qr_text"].write_text(self.qr_text(), encoding="utf-8")
        segno.make(self.pin, error="m").save(str(paths["qr_svg"]), kind="svg", scale=4)
        return paths


def write_private_file(path: Path, data: bytes) -> None:
    """Create or replace `path` readable by the owner only (0600) from the start,
    so a secret is never briefly world-readable."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def create_test_pki(
    hosts: Sequence[str],
    ips: Sequence[str] = (),
    *,
    days: int = DEFAULT_VALIDITY_DAYS,
    key_type: KeyType = "ecdsa",
    friendly_name: str = DEFAULT_FRIENDLY_NAME,
    passphrase: str | None = None,
    intermediate: bool = False,
    now: dt.datetime | None = None,
    ca_key: SigningKey | None = None,
    intermediate_key: SigningKey | None = None,
    server_key: SigningKey | None = None,
) -> GeneratedPki:
    """Make a CA (and optionally an intermediate) and a server certificate valid for
    `days` days from `now`, and package the server's .pfx.

    Pure apart from randomness: pass keys in (e.g. generated once per test session)
    to make it fast. A passphrase is generated when none is given."""
    if not 1 <= days <= MAX_VALIDITY_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_VALIDITY_DAYS}")
    for addr in ips:
        ipaddress.ip_address(addr)  # ValueError names the bad address
    start = (now or dt.datetime.now(dt.UTC)) - CLOCK_SKEW_ALLOWANCE
    end = start + CLOCK_SKEW_ALLOWANCE + dt.timedelta(days=days)
    # The CA outlives the leaf by a day so the leaf is never the one with the longer life.
    # A random tag keeps the names of separately made test PKIs apart, so a client
    # trusting two of them never confuses their CAs.
    tag = secrets.token_hex(3)
    ca = make_ca(
        f"holoremote test root CA {tag}",
        not_before=start,
        not_after=end + dt.timedelta(days=1),
        key=ca_key or generate_private_key(key_type),
    )
    issuer = ca
    middle = None
    if intermediate:
        middle = make_ca(
            f"holoremote test intermediate CA {tag}",
            not_before=start,
            not_after=end + dt.timedelta(days=1),
            issuer=ca,
            path_length=0,
            key=intermediate_key or generate_private_key(key_type),
        )
        issuer = middle
    server = make_server_certificate(
        issuer,
        hosts=hosts,
        ips=ips,
        not_before=start,
        not_after=end,
        key=server_key or generate_private_key(key_type),
    )
    chain = [middle.certificate, ca.certificate] if middle else [ca.certificate]
    secret = passphrase if passphrase is not None else generate_passphrase()
    pfx = export_pkcs12(server, chain, friendly_name=friendly_name, passphrase=secret)
    return GeneratedPki(ca, middle, server, friendly_name, secret, pfx)

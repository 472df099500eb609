"""TEMPORARY stand-ins for issue 4's certificate module, until it lands in main.

`interim_server_tls_material` stands for `app.security.certstore.server_tls_material`
and `InterimTrust.validate` for issue 4's system validation. They are deliberately
small (no revocation, no CA/B Forum extras) and are replaced by the real functions
when `app/security` is merged; nothing outside `app/remoting/builtin` imports them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from app.errors import InputError
from app.security.verdict import ValidationResult
from app.xr.values import CertificateNameValidationResult as NameCheck


def _common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else None
    return value if isinstance(value, str) else None


def interim_server_tls_material(
    store_bytes: bytes, passphrase: str | None, subject_name: str
) -> tuple[bytes, bytes]:
    """(chain_pem, key_pem) from a PKCS#12 store: the certificate whose friendly name,
    else subject CN, is `subject_name`, followed by the store's other certificates."""
    try:
        store = pkcs12.load_pkcs12(store_bytes, passphrase.encode() if passphrase else None)
    except ValueError:
        raise InputError(
            "certificate store", "not a PKCS#12 file, or the passphrase is wrong"
        ) from None
    if store.cert is None or store.key is None:
        raise InputError("certificate store", "no certificate with a private key")
    leaf = store.cert.certificate
    friendly = (
        store.cert.friendly_name.decode("utf-8", "replace") if store.cert.friendly_name else None
    )
    if subject_name not in (friendly, _common_name(leaf)):
        raise InputError(
            "certificate store",
            f"no certificate named {subject_name!r} (found {friendly or _common_name(leaf)!r})",
        )
    others = [c.certificate for c in store.additional_certs]
    pem = serialization.Encoding.PEM
    chain_pem = b"".join(c.public_bytes(pem) for c in [leaf, *others])
    key_pem = store.key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain_pem, key_pem


def _system_bundle() -> bytes:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_bytes()
    return b""


def _name_matches(cert: x509.Certificate, host: str) -> NameCheck:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return NameCheck.MISMATCH
    try:
        address = ipaddress.ip_address(host)
        return (
            NameCheck.MATCH
            if address in sans.get_values_for_type(x509.IPAddress)
            else (NameCheck.MISMATCH)
        )
    except ValueError:
        pass
    wanted = host.lower().rstrip(".")
    for san in sans.get_values_for_type(x509.DNSName):
        name = san.lower()
        if name == wanted:
            return NameCheck.MATCH
        if name.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == name[2:]:
            return NameCheck.MATCH
    return NameCheck.MISMATCH


class InterimTrust:
    """A trust store (a CA bundle, or the OS bundle) loaded once, and a validator."""

    def __init__(self, ca_pem: bytes | None) -> None:
        self.source = "CA file" if ca_pem is not None else "system trust store"
        pem = ca_pem if ca_pem is not None else _system_bundle()
        roots = x509.load_pem_x509_certificates(pem) if pem.strip() else []
        self._store = Store(roots) if roots else None

    def validate(self, chain: tuple[bytes, ...], host: str) -> ValidationResult:
        reasons: dict[str, str] = {}
        try:
            certs = [x509.load_der_x509_certificate(der) for der in chain]
        except ValueError:
            return ValidationResult(
                invalid_cert_or_chain=True,
                reasons={"invalidCertOrChain": "a certificate could not be parsed"},
            )
        if not certs:
            return ValidationResult(
                invalid_cert_or_chain=True, reasons={"invalidCertOrChain": "no certificate"}
            )
        leaf = certs[0]
        now = dt.datetime.now(dt.UTC)
        expired = any(not (c.not_valid_before_utc <= now <= c.not_valid_after_utc) for c in certs)
        if expired:
            reasons["expired"] = "a certificate in the chain is outside its validity period"
        try:
            usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            wrong_usage = ExtendedKeyUsageOID.SERVER_AUTH not in usages
        except x509.ExtensionNotFound:
            wrong_usage = True
        if wrong_usage:
            reasons["wrongUsage"] = "the leaf has no serverAuth extended key usage"
        name = _name_matches(leaf, host)
        if name == NameCheck.MISMATCH:
            reasons["nameMismatch"] = f"{host!r} is not among the leaf's subject alternative names"
        trusted = False
        if self._store is None:
            reasons["trustedRoot"] = f"the {self.source} holds no certificates"
        else:
            # Check the path at a time inside the leaf's validity and for a name the
            # leaf carries, so that expiry and name are reported by their own fields.
            when = min(max(now, leaf.not_valid_before_utc), leaf.not_valid_after_utc)
            subject: x509.DNSName | x509.IPAddress
            try:
                sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                dns = sans.get_values_for_type(x509.DNSName)
                ips = sans.get_values_for_type(x509.IPAddress)
                subject = x509.DNSName(dns[0]) if dns else x509.IPAddress(ips[0])
                verifier = (
                    PolicyBuilder().store(self._store).time(when).build_server_verifier(subject)
                )
                verifier.verify(leaf, certs[1:])
                trusted = True
            except (x509.ExtensionNotFound, IndexError):
                reasons["trustedRoot"] = "the leaf has no subject alternative name"
            except VerificationError as exc:
                reasons["trustedRoot"] = f"no path to a root in the {self.source}: {exc}"
        return ValidationResult(
            trusted_root=trusted,
            expired=expired,
            wrong_usage=wrong_usage,
            name_mismatch=name,
            reasons=reasons,
        )


# --- a throw-away PKI (stands for app.security.testpki.create_test_pki) ------------------


@dataclass(frozen=True)
class InterimPki:
    ca_pem: bytes
    chain_der: tuple[bytes, ...]  # leaf, [intermediate,] root
    friendly_name: str
    passphrase: str = field(repr=False)
    pfx: bytes = field(repr=False)


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool,
    start: dt.datetime,
    end: dt.datetime,
    hosts: Sequence[str] = (),
    ips: Sequence[str] = (),
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, signer = (issuer[0].subject, issuer[1]) if issuer else (name, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()),
            critical=False,
        )
    usage = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    if ca:
        usage.update(key_cert_sign=True, crl_sign=True, digital_signature=True)
    else:
        usage.update(digital_signature=True)
        sans: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    builder = builder.add_extension(x509.KeyUsage(**usage), critical=True)
    return builder.sign(signer, hashes.SHA256())


def interim_test_pki(
    hosts: Sequence[str],
    ips: Sequence[str] = (),
    *,
    intermediate: bool = False,
    friendly_name: str = "holoremote-server",
    passphrase: str | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> InterimPki:
    """A CA (and optionally an intermediate) and an ECDSA P-256 server certificate."""
    now = dt.datetime.now(dt.UTC)
    start = not_before or now - dt.timedelta(minutes=5)
    end = not_after or now + dt.timedelta(days=30)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _issue(
        "holoremote test root CA",
        root_key,
        None,
        ca=True,
        start=start,
        end=end + dt.timedelta(days=1),
    )
    issuer = (root, root_key)
    middle: list[x509.Certificate] = []
    if intermediate:
        middle_key = ec.generate_private_key(ec.SECP256R1())
        middle_cert = _issue(
            "holoremote test intermediate CA",
            middle_key,
            issuer,
            ca=True,
            start=start,
            end=end + dt.timedelta(days=1),
        )
        middle = [middle_cert]
        issuer = (middle_cert, middle_key)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _issue(
        hosts[0] if hosts else ips[0],
        leaf_key,
        issuer,
        ca=False,
        start=start,
        end=end,
        hosts=hosts,
        ips=ips,
    )
    secret = passphrase if passphrase is not None else secrets.token_urlsafe(18)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(secret.encode())
        if secret
        else serialization.NoEncryption()
    )
    pfx = pkcs12.serialize_key_and_certificates(
        friendly_name.encode(), leaf_key, leaf, [*middle, root], encryption
    )
    der = serialization.Encoding.DER
    return InterimPki(
        ca_pem=root.public_bytes(serialization.Encoding.PEM),
        chain_der=tuple(c.public_bytes(der) for c in [leaf, *middle, root]),
        friendly_name=friendly_name,
        passphrase=secret,
        pfx=pfx,
    )

"""Load certificate stores (PKCS#12, PEM, DER) and pick the server certificate.

Why one loader for every format: the server callback hands the runtime "a PKCS#12
blob, its passphrase and a subject name", while people also have PEM/DER files from
other tools; `inspect`, `verify` and the built-in runtime's TLS server must read
them all the same way and fail with the same clear messages.

Selection follows the specification's RequestServerCertificate text: the subject
name identifies the certificate "usually either the subject common name, or a
friendly name assigned to the certificate"; the friendly name is tried first.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from app.security.errors import CertificateFileError
from app.security.thumbprints import public_key_der

# A store holds a handful of certificates (leaf, 1-3 CAs) of 1-2 KiB each; 1 MiB is
# hundreds of times that. Larger input is a wrong file (a disk image, a log), and
# refusing it early keeps a hostile file from costing parser time and memory.
MAX_STORE_BYTES = 1024 * 1024
# More certificates than any real chain or bundle of intermediates needs.
MAX_CERTIFICATES_PER_STORE = 64

FIX_UNLOCK = (
    "give the passphrase the file was exported with (--passphrase-file, or "
    "HOLOREMOTE_KEY_PASSPHRASE)"
)
FIX_FORMAT = "give a .pfx/.p12 store, or PEM/DER certificates and keys"

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_FRIENDLY_NAME_LINE = re.compile(rb"^\s*friendlyName:\s*(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class StoreEntry:
    """One certificate of a store, with its friendly name and, when the store holds
    it, the matching private key (never shown in repr)."""

    certificate: x509.Certificate
    friendly_name: str | None = None
    private_key: PrivateKeyTypes | None = field(default=None, repr=False)

    @property
    def common_name(self) -> str | None:
        return common_name(self.certificate)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def display_name(self) -> str:
        return self.friendly_name or self.common_name or self.certificate.subject.rfc4514_string()


@dataclass(frozen=True)
class CertificateStore:
    """What a file held: certificates in file order (PKCS#12: the keyed certificate
    first), plus warnings found at load (e.g. expired), which never refuse the file."""

    source: str
    format: str  # "PKCS#12", "PEM" or "DER"
    entries: tuple[StoreEntry, ...]
    warnings: tuple[str, ...] = ()

    @property
    def certificates(self) -> tuple[x509.Certificate, ...]:
        return tuple(e.certificate for e in self.entries)

    def names(self) -> list[str]:
        """Every name the subject-name lookup could match, for error messages."""
        found: list[str] = []
        for entry in self.entries:
            for name in (entry.friendly_name, entry.common_name):
                if name and name not in found:
                    found.append(name)
        return found


def common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attrs:
        return None
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def read_bounded_file(path: str | os.PathLike[str], *, what: str = "certificate file") -> bytes:
    """Read a whole input file, refusing anything over `MAX_STORE_BYTES` before
    reading it, with a message naming the path and the fix."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_STORE_BYTES:
            raise _too_big(str(file), size)
        with file.open("rb") as handle:
            data = handle.read(MAX_STORE_BYTES + 1)
    except FileNotFoundError:
        raise CertificateFileError(str(file), f"no such {what}", fix="check the path") from None
    except IsADirectoryError:
        raise CertificateFileError(
            str(file), "is a directory", fix=f"give the {what} itself"
        ) from None
    except PermissionError:
        raise CertificateFileError(
            str(file), "cannot be read (permission denied)", fix="check the file's permissions"
        ) from None
    if len(data) > MAX_STORE_BYTES:
        raise _too_big(str(file), len(data))
    return data


def _too_big(source: str, size: int) -> CertificateFileError:
    return CertificateFileError(
        source,
        f"is {size} bytes, over the {MAX_STORE_BYTES // 1024} KiB limit for a "
        "certificate store; this is not a certificate file",
        fix=FIX_FORMAT,
    )


def load_certificate_store(
    data: bytes,
    passphrase: str | None,
    *,
    source: str,
    now: dt.datetime | None = None,
    max_certificates: int = MAX_CERTIFICATES_PER_STORE,
) -> CertificateStore:
    """Parse a PKCS#12, PEM or DER blob into a `CertificateStore`.

    `source` names the blob (a path, "the server callback") in messages. Private keys
    are matched to certificates by public key; a key that matches none is refused.
    Expired or not-yet-valid certificates give warnings, not refusals (a user may be
    inspecting exactly that). `max_certificates` bounds the count; a chain to be
    validated passes a larger bound, because an overlong chain is the validator's
    refusal (with its reason), not unreadable input."""
    if len(data) > MAX_STORE_BYTES:
        raise _too_big(source, len(data))
    if not data.strip():
        raise CertificateFileError(source, "is empty", fix=FIX_FORMAT)
    secret = passphrase.encode() if passphrase else None
    if b"-----BEGIN" in data:
        fmt = "PEM"
        certs, keys, names = _load_pem(data, secret, source)
        entries = _attach_keys(certs, names, keys, source)
    else:
        _check_der_length(data, source)
        fmt, entries = _load_binary(data, secret, passphrase, source)
    if len(entries) > max_certificates:
        raise CertificateFileError(
            source,
            f"holds {len(entries)} certificates, over the limit of {max_certificates}",
            fix="keep only the server certificate, its key and its chain in the store",
        )
    return CertificateStore(source, fmt, tuple(entries), tuple(_validity_warnings(entries, now)))


def _validity_warnings(entries: Sequence[StoreEntry], now: dt.datetime | None) -> list[str]:
    moment = now or dt.datetime.now(dt.UTC)
    warnings = []
    for entry in entries:
        cert = entry.certificate
        if cert.not_valid_after_utc < moment:
            warnings.append(
                f"certificate '{entry.display_name}' expired on "
                f"{cert.not_valid_after_utc.isoformat()}; clients will refuse it"
            )
        elif cert.not_valid_before_utc > moment:
            warnings.append(
                f"certificate '{entry.display_name}' is not valid before "
                f"{cert.not_valid_before_utc.isoformat()}; clients will refuse it until then"
            )
    return warnings


def _check_der_length(data: bytes, source: str) -> None:
    """A DER/PKCS#12 file is one SEQUENCE; if its header promises more bytes than the
    file has, the file was cut short (an interrupted copy or download)."""
    if len(data) < 2 or data[0] != 0x30:
        raise CertificateFileError(
            source, "is not a certificate, private key or PKCS#12 store", fix=FIX_FORMAT
        )
    first = data[1]
    if first < 0x80:
        declared, header = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            raise CertificateFileError(
                source, "is not a certificate, private key or PKCS#12 store", fix=FIX_FORMAT
            )
        declared, header = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    if header + declared > len(data):
        raise CertificateFileError(
            source,
            f"is truncated: its header announces {header + declared} bytes but it has "
            f"only {len(data)}",
            fix="copy or export the file again",
        )


def _load_binary(
    data: bytes, secret: bytes | None, passphrase: str | None, source: str
) -> tuple[str, list[StoreEntry]]:
    try:
        return "DER", [StoreEntry(x509.load_der_x509_certificate(data))]
    except ValueError:
        pass
    key = _try_der_key(data, secret)
    if key is not None:
        raise CertificateFileError(
            source,
            "holds only a private key, no certificate",
            fix="give the certificate too (a .pfx, or a PEM file with both)",
        )
    if not _looks_like_pkcs12(data):
        raise CertificateFileError(
            source, "is not a certificate, private key or PKCS#12 store", fix=FIX_FORMAT
        )
    bundle = _open_pkcs12(data, secret, passphrase, source)
    entries: list[StoreEntry] = []
    if bundle.cert is not None:
        entries.append(StoreEntry(bundle.cert.certificate, _friendly(bundle.cert), bundle.key))
    for extra in bundle.additional_certs:
        entries.append(StoreEntry(extra.certificate, _friendly(extra)))
    if not entries:
        raise CertificateFileError(
            source, "is a PKCS#12 store with no certificate in it", fix=FIX_FORMAT
        )
    if bundle.key is not None and bundle.cert is None:
        entries = _attach_keys(
            [e.certificate for e in entries],
            [e.friendly_name for e in entries],
            [bundle.key],
            source,
        )
    elif bundle.key is not None:
        _require_match(entries[0].certificate, bundle.key, source)
    return "PKCS#12", entries


def _friendly(bag: pkcs12.PKCS12Certificate) -> str | None:
    if bag.friendly_name is None:
        return None
    return bag.friendly_name.decode("utf-8", "replace")


def _looks_like_pkcs12(data: bytes) -> bool:
    """PFX ::= SEQUENCE { version INTEGER (3), ... }: after the outer header comes
    02 01 03."""
    header = 2 + (data[1] & 0x7F if data[1] >= 0x80 else 0)
    return data[header : header + 3] == b"\x02\x01\x03"


def _open_pkcs12(
    data: bytes, secret: bytes | None, passphrase: str | None, source: str
) -> pkcs12.PKCS12KeyAndCertificates:
    # With no passphrase given, try both "no password" and the empty password: tools
    # disagree on which one an unprotected export uses.
    attempts = [secret] if secret is not None else [None, b""]
    for attempt in attempts:
        try:
            return pkcs12.load_pkcs12(data, attempt)
        except ValueError:
            continue
    if passphrase is None or passphrase == "":
        raise CertificateFileError(
            source,
            "is a PKCS#12 store protected by a passphrase, and none was given",
            fix=FIX_UNLOCK,
        )
    raise CertificateFileError(
        source,
        "could not be opened with the passphrase given (wrong passphrase, or a damaged file)",
        fix=FIX_UNLOCK,
    )


def _try_der_key(data: bytes, secret: bytes | None) -> PrivateKeyTypes | None:
    try:
        return serialization.load_der_private_key(data, secret)
    except (ValueError, TypeError):
        return None


def _load_pem(
    data: bytes, secret: bytes | None, source: str
) -> tuple[list[x509.Certificate], list[PrivateKeyTypes], list[str | None]]:
    blocks = list(_PEM_BLOCK.finditer(data))
    if data.count(b"-----BEGIN") != len(blocks):
        raise CertificateFileError(
            source,
            "is truncated: a PEM block has a BEGIN line but no matching END line",
            fix="copy or export the file again",
        )
    certs: list[x509.Certificate] = []
    names: list[str | None] = []
    keys: list[PrivateKeyTypes] = []
    previous_end = 0
    for index, block in enumerate(blocks, start=1):
        label = block.group(1).decode()
        # `openssl pkcs12 -info` writes "Bag Attributes ... friendlyName: X" before a block.
        preamble = data[previous_end : block.start()]
        previous_end = block.end()
        friendly = _FRIENDLY_NAME_LINE.search(preamble)
        try:
            body = base64.b64decode(b"".join(block.group(2).split()), validate=True)
        except (binascii.Error, ValueError):
            raise CertificateFileError(
                source,
                f"PEM block {index} ({label}) is not valid base64 (damaged file)",
                fix="copy or export the file again",
            ) from None
        if label in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"):
            try:
                certs.append(x509.load_der_x509_certificate(body))
            except ValueError as exc:
                raise CertificateFileError(
                    source,
                    f"PEM block {index} is not a valid certificate ({exc})",
                    fix="copy or export the file again",
                ) from None
            names.append(friendly.group(1).decode("utf-8", "replace") if friendly else None)
        elif label.endswith("PRIVATE KEY"):
            keys.append(_load_pem_key(block.group(0), secret, label, index, source))
    if not certs:
        if keys:
            raise CertificateFileError(
                source,
                "holds only a private key, no certificate",
                fix="give the certificate too (a .pfx, or a PEM file with both)",
            )
        raise CertificateFileError(source, "has no CERTIFICATE block in it", fix=FIX_FORMAT)
    return certs, keys, names


def _load_pem_key(
    block: bytes, secret: bytes | None, label: str, index: int, source: str
) -> PrivateKeyTypes:
    encrypted = label == "ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in block
    if encrypted and secret is None:
        raise CertificateFileError(
            source,
            f"private key (PEM block {index}) is encrypted, and no passphrase was given",
            fix=FIX_UNLOCK,
        )
    try:
        return serialization.load_pem_private_key(block, secret if encrypted else None)
    except (ValueError, TypeError):
        if encrypted:
            raise CertificateFileError(
                source,
                f"private key (PEM block {index}) could not be decrypted with the passphrase given",
                fix=FIX_UNLOCK,
            ) from None
        raise CertificateFileError(
            source,
            f"PEM block {index} ({label}) is not a valid private key",
            fix="copy or export the file again",
        ) from None


def _attach_keys(
    certs: Sequence[x509.Certificate],
    names: Sequence[str | None],
    keys: Sequence[PrivateKeyTypes],
    source: str,
) -> list[StoreEntry]:
    by_public: dict[bytes, int] = {}
    for i, c in enumerate(certs):
        try:
            by_public.setdefault(public_key_der(c), i)
        except ValueError:
            # A key cryptography cannot read (bad DER, explicit curve parameters) pairs
            # with no private key; validation refuses such a certificate with a reason.
            continue
    owned: dict[int, PrivateKeyTypes] = {}
    for key in keys:
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if spki not in by_public:
            raise CertificateFileError(
                source,
                "holds a private key that does not match any certificate in it "
                f"(certificates: {', '.join(_describe(c) for c in certs)})",
                fix="pair the certificate with the key it was issued for",
            )
        owned[by_public[spki]] = key
    return [StoreEntry(c, names[i], owned.get(i)) for i, c in enumerate(certs)]


def _require_match(cert: x509.Certificate, key: PrivateKeyTypes, source: str) -> None:
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if spki != public_key_der(cert):
        raise CertificateFileError(
            source,
            f"the private key does not match certificate '{_describe(cert)}'",
            fix="pair the certificate with the key it was issued for",
        )


def _describe(cert: x509.Certificate) -> str:
    return common_name(cert) or cert.subject.rfc4514_string() or "(empty subject)"


def select_server_certificate(store: CertificateStore, subject_name: str) -> StoreEntry:
    """The certificate the server presents: the first whose friendly name equals
    `subject_name`, else the first whose subject CN does (case-insensitive, as
    Windows' certificate store lookup), and which has a private key.

    An empty subject name picks the only keyed certificate when there is exactly one."""
    wanted = subject_name.strip()
    keyed = [e for e in store.entries if e.private_key is not None]
    if not wanted:
        if len(keyed) == 1:
            return keyed[0]
        raise CertificateFileError(
            store.source,
            "no subject name was given to pick the server certificate",
            fix=f"give one of: {_names_list(store)}",
        )
    folded = wanted.casefold()
    for attr in ("friendly_name", "common_name"):
        matches = [e for e in store.entries if (getattr(e, attr) or "").casefold() == folded]
        with_key = [e for e in matches if e.private_key is not None]
        if with_key:
            return with_key[0]
        if matches:
            raise CertificateFileError(
                store.source,
                f"certificate '{wanted}' is in the store but its private key is not",
                fix="export the certificate together with its private key (a .pfx with the key)",
            )
    raise CertificateFileError(
        store.source,
        f"no certificate has the friendly name or subject common name '{wanted}'; "
        f"names present: {_names_list(store)}",
        fix="set the subject name to one of the names present",
    )


def _names_list(store: CertificateStore) -> str:
    names = store.names()
    return ", ".join(f"'{n}'" for n in names) if names else "(none)"


def order_chain(leaf: x509.Certificate, pool: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """Leaf first, then each issuer found in `pool` by name and signature, up to a
    self-signed certificate or the first issuer not in the pool. Uses cryptography's
    signature check (`verify_directly_issued_by`), never our own. A self-issued
    certificate that is not self-signed (a CA key rollover, RFC 5280 6.1) is
    followed to its issuer like any other; each step uses up a pool entry, so the
    walk ends."""
    chain = [leaf]
    remaining = [c for c in pool if c != leaf]
    current = leaf
    while remaining and not (current.issuer == current.subject and _issued_by(current, current)):
        issuer = next((c for c in remaining if _issued_by(current, c)), None)
        if issuer is None:
            break
        chain.append(issuer)
        remaining.remove(issuer)
        current = issuer
    return chain


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    if child.issuer != issuer.subject:
        return False
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - InvalidSignature and friends
        return False
    return True


def server_tls_material(
    store_bytes: bytes,
    passphrase: str | None,
    subject_name: str,
    *,
    source: str = "certificate store",
) -> tuple[bytes, bytes]:
    """(chain_pem, key_pem) for `ssl.SSLContext.load_cert_chain`: the selected leaf
    first, then its issuers from the same store in issuer order; the key as
    unencrypted PKCS#8 PEM (keep it in memory only)."""
    store = load_certificate_store(store_bytes, passphrase, source=source)
    entry = select_server_certificate(store, subject_name)
    assert entry.private_key is not None  # select_server_certificate guarantees it
    if not isinstance(
        entry.private_key,
        rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey
        | dsa.DSAPrivateKey,
    ):
        raise CertificateFileError(
            source, "the server key type cannot be used for TLS", fix="use an RSA or ECDSA key"
        )
    chain = order_chain(entry.certificate, store.certificates)
    chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    key_pem = entry.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return chain_pem, key_pem

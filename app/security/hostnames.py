"""Host name and IP matching against a certificate's SANs (RFC 6125 with the
CA/Browser Forum rules browsers apply).

Why our own matcher next to cryptography's: the verdict needs `nameMismatch` as its
own field with a reason ("the host is only in the CN", "the wildcard spans a public
suffix"), even when other checks fail and the verifier stops early. Chain verdicts
still run cryptography's verifier with the real name, so the two must agree; this
module is the stricter of the two (CN never used, no public-suffix wildcards).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

import idna
from cryptography import x509
from cryptography.x509.oid import NameOID
from publicsuffixlist import PublicSuffixList

from app.xr.values import CertificateNameValidationResult as NameResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 1035: a name is at most 253 characters in text form, a label at most 63.
MAX_HOST_NAME_LENGTH = 253
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@functools.cache
def _public_suffix_list() -> PublicSuffixList:
    """The Public Suffix List the `publicsuffixlist` package ships (ICANN and private
    sections; read once, no network at run time). An unknown TLD counts as a public
    suffix, so a wildcard directly under it never matches."""
    return PublicSuffixList()


@dataclass(frozen=True)
class NameCheck:
    result: NameResult
    reason: str


@functools.lru_cache(maxsize=256)
def parse_host(host: str) -> IPAddress | str:
    """An IP address (brackets around IPv6 allowed), or a normalised DNS name
    (lower case, no trailing dot). Raises ValueError for neither. Cached: one chain
    validation asks for the same host several times (docs/benchmarks.md)."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    name = text.removesuffix(".")
    if not name.isascii():
        name = to_a_label(name, host)
    name = name.lower()
    if not name or len(name) > MAX_HOST_NAME_LENGTH:
        raise ValueError(f"'{host}' is not a host name or IP address")
    if not all(_LABEL.match(label) for label in name.split(".")):
        raise ValueError(f"'{host}' is not a valid host name (letters, digits, '-', dots)")
    return name


def to_a_label(name: str, shown: str | None = None) -> str:
    """The A-label (punycode) form of a Unicode host name, through UTS 46 mapping
    and IDNA 2008 (RFC 5891); certificates carry only A-labels (RFC 5280 7.2), so a
    host typed as 'bücher.lab' is matched as 'xn--bcher-kva.lab'. Raises ValueError
    naming the host when it is not a valid internationalised name."""
    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(
            f"'{shown or name}' is not a valid internationalised host name ({exc})"
        ) from None


def is_public_suffix(domain: str) -> bool:
    """True for a TLD (one label) or a public suffix of the Public Suffix List
    (co.uk, github.io, ...), where a wildcard would span unrelated owners."""
    name = domain.lower().removesuffix(".")
    return "." not in name or bool(_public_suffix_list().is_public(name))


def san_names(cert: x509.Certificate) -> tuple[list[str], list[IPAddress]] | None:
    """(DNS names, IP addresses) from the SAN extension; None if it is absent."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    dns = [str(v) for v in san.get_values_for_type(x509.DNSName)]
    ips = [
        v
        for v in san.get_values_for_type(x509.IPAddress)
        if isinstance(v, ipaddress.IPv4Address | ipaddress.IPv6Address)
    ]
    return dns, ips


def _dns_match(pattern: str, host: str) -> tuple[bool, str | None]:
    """(matches, why a wildcard was refused). RFC 6125 6.4.3 as browsers do it: the
    wildcard is the whole left-most label, matches exactly one non-empty label, and
    never spans a public suffix."""
    presented = pattern.lower()
    if presented.endswith("."):
        return False, None  # CA/B: a dNSName is an FQDN without the root dot
    if not presented.isascii():
        return False, None  # RFC 5280 7.2: IDNs are stored as A-labels
    labels = presented.split(".")
    if "*" not in presented:
        return presented == host, None
    if labels[0] != "*" or any("*" in label for label in labels[1:]):
        return False, None  # partial or non-left-most wildcard: never matches
    base = ".".join(labels[1:])
    if is_public_suffix(base):
        host_labels = host.split(".")
        if len(host_labels) == len(labels) and ".".join(host_labels[1:]) == base:
            return False, f"wildcard '{pattern}' spans the public suffix '{base}'"
        return False, None
    host_labels = host.split(".")
    if len(host_labels) != len(labels):
        return False, None
    return ".".join(host_labels[1:]) == base and host_labels[0] != "", None


def match_host(cert: x509.Certificate, host: str) -> NameCheck:
    """Compare `host` against the leaf's SANs only; the subject CN is never a name
    source (CA/B BR 7.1.4.3, RFC 6125 6.4.4 for certificates with SANs)."""
    try:
        wanted = parse_host(host)
    except ValueError as exc:
        return NameCheck(NameResult.MISMATCH, str(exc))
    try:
        names = san_names(cert)
    except ValueError as exc:
        return NameCheck(NameResult.MISMATCH, f"the subjectAltName extension is malformed: {exc}")
    if names is None:
        return NameCheck(
            NameResult.MISMATCH,
            "the certificate has no subjectAltName extension; the subject CN is never "
            "used as a name",
        )
    dns, ips = names
    if isinstance(wanted, ipaddress.IPv4Address | ipaddress.IPv6Address):
        if wanted in ips:
            return NameCheck(NameResult.MATCH, f"IP address {wanted} is in the certificate's SANs")
        return NameCheck(
            NameResult.MISMATCH,
            f"IP address {wanted} is not among the certificate's IP SANs "
            f"({', '.join(map(str, ips)) or 'none'}); DNS names never match an IP",
        )
    refusals = []
    for pattern in dns:
        matched, refusal = _dns_match(pattern, wanted)
        if matched:
            return NameCheck(NameResult.MATCH, f"host '{wanted}' matches SAN '{pattern}'")
        if refusal:
            refusals.append(refusal)
    reason = (
        f"host '{wanted}' matches none of the certificate's DNS SANs ({', '.join(dns) or 'none'})"
    )
    if refusals:
        reason += "; " + "; ".join(refusals)
    if wanted in (c.lower() for c in common_names(cert)):
        reason += "; it appears only in the subject CN, which is never used as a name"
    return NameCheck(NameResult.MISMATCH, reason)


def common_names(cert: x509.Certificate) -> list[str]:
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return [v.value if isinstance(v.value, str) else v.value.decode("latin-1") for v in values]


def _ipv4_legacy(text: str) -> ipaddress.IPv4Address | None:
    """`text` read the way inet_aton(3) and the URL standard's IPv4 parser read it:
    one to four parts, each decimal, octal (leading 0) or hex (0x). This is how a
    client that still looks at the CN may read '0xC0A80101' or '192.168.001.001'."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        lowered = part.lower()
        try:
            if lowered.startswith("0x"):
                values.append(int(lowered[2:] or "0", 16))
            elif len(lowered) > 1 and lowered.startswith("0"):
                values.append(int(lowered, 8))
            else:
                values.append(int(lowered, 10) if lowered.isdigit() else -1)
        except ValueError:
            return None
    if any(v < 0 for v in values) or any(v > 255 for v in values[:-1]):
        return None
    last_bits = 8 * (5 - len(values))
    if values[-1] >= 1 << last_bits:
        return None
    number = values[-1]
    for index, value in enumerate(values[:-1]):
        number |= value << (24 - 8 * index)
    return ipaddress.IPv4Address(number)


def _cn_as_address(cn: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(cn)
    except ValueError:
        pass
    if ":" in cn:
        return None
    return _ipv4_legacy(cn)


def _cn_as_a_label(cn: str) -> str | None:
    """The ASCII (A-label) form of a CN that is a DNS host name (at least two
    labels, letters/digits/'-' once in A-label form), lower case; None if the CN is
    not a host name at all ("My lab server", "EE")."""
    try:
        name = cn.lower() if cn.isascii() else to_a_label(cn).lower()
    except ValueError:
        return None
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return None
    return name


def common_name_problems(cert: x509.Certificate) -> list[str]:
    """CA/B BR 7.1.4.3: a leaf's CN, if present, is exactly one entry, written exactly
    as one SAN is written (IPv4 dotted decimal, IPv6 as RFC 5952, a DNS name as a
    character-for-character copy of its A-label SAN).

    What is refused: more than one CN, and a CN that names one of the SAN entries in
    another spelling (other case, a U-label for an A-label SAN, hex/octal/zero-padded
    IPv4, upper-case or uncompressed IPv6). Such a CN is a misencoded certificate,
    and a legacy client that still reads the CN may take it for another name.
    Also refused: a CN that is a host name (ASCII, A-label or U-label) or an IP
    address that is not among the SANs. BR 7.1.4.3 allows the CN only as a copy of
    a SAN; a CN naming another host is what a client that still reads the CN would
    connect to. What is not refused: a CN that is not a host name at all ("My lab
    server", "EE"); the CN is never used as a name (see `match_host`)."""
    cns = common_names(cert)
    if not cns:
        return []
    if len(cns) > 1:
        return [f"the subject has {len(cns)} CN attributes; at most one is allowed"]
    try:
        names = san_names(cert)
    except ValueError:
        return []  # reported as a malformed SAN elsewhere
    if names is None:
        return []  # reported as "no subjectAltName" by the name check
    dns, ips = names
    cn = cns[0]
    if cn in dns or cn in {str(ip) for ip in ips}:  # str() is the RFC 5952 / dotted form
        return []
    why = (
        f"the subject CN '{cn}' is not a character-for-character copy of the "
        "subjectAltName entry it names (CA/B BR 7.1.4.3)"
    )
    address = _cn_as_address(cn)
    if address is not None and address in ips:
        return [f"{why}: {address} must be written '{address}'"]
    label = _cn_as_a_label(cn)
    if label is not None and label in (d.lower() for d in dns):
        return [f"{why}: the SAN is written '{next(d for d in dns if d.lower() == label)}'"]
    if address is not None and address not in ips:
        return [_cn_not_in_sans(cn, dns, ips)]
    if label is not None and dns and not any(_within(d.lower(), label) for d in dns):
        return [_cn_not_in_sans(cn, dns, ips)]
    return []


def _within(san: str, cn: str) -> bool:
    """Whether the DNS SAN covers the CN (a wildcard SAN matching it), or lies at or
    below the CN's domain ('www.lab.test' or '*.lab.test' under 'lab.test'): the CN
    then names a host the SANs vouch for, or the zone the CA validated them in (the
    legacy 'CN = the site's domain' form), not another host."""
    if _dns_match(san, cn)[0]:
        return True
    base = san[2:] if san.startswith("*.") else san
    return base == cn or base.endswith("." + cn)


def _cn_not_in_sans(cn: str, dns: list[str], ips: list[IPAddress]) -> str:
    return (
        f"the subject CN '{cn}' names a host that is not among the subjectAltNames "
        f"({', '.join([*dns, *map(str, ips)]) or 'none'}); CA/B BR 7.1.4.3 allows the CN "
        "only as a copy of one of them"
    )

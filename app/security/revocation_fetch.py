"""The one place that touches the network for revocation: plain HTTP GET/POST to
CRL distribution points and OCSP responders, bounded in time and size, and a cache
of the answers by URL until their nextUpdate.

HTTP and not HTTPS on purpose: RFC 5280/6960 publish CRLs and OCSP over HTTP (the
answers are signed), and fetching them over TLS would need revocation checks of its
own. Proxies from the environment are not used: a revocation check must not be
redirected silently.

Callers run the fetches off the event loop and the window's thread (the runtime
calls the validation callback in a worker), so a slow responder costs at most the
per-request timeout, and all fetches of one validation at most `TOTAL_BUDGET_SECONDS`
(see `revocation.check_revocation`).
"""

from __future__ import annotations

import datetime as dt
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from cryptography import x509
from cryptography.x509 import ocsp

from app.errors import InputError
from app.security.certstore import read_bounded_file
from app.security.revocation import Fetcher, RevocationOptions, parse_crls

# Revocation is on the connection path; a responder slower than this is treated as
# down (browsers use 3-15 s; we are interactive, so the short end).
DEFAULT_TIMEOUT_SECONDS = 5.0
# All fetches of one validation together; the handshake allows 60 s, and a person
# waits for the answer.
TOTAL_BUDGET_SECONDS = 15.0
# CRLs of public CAs reach a few MiB; ours are tiny. 4 MiB bounds memory.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
# Distinct answers kept; a client talks to a handful of servers.
MAX_CACHED_ANSWERS = 256


class FetchError(OSError):
    """A fetch that gave no answer, in words for the verdict (the URL is added by
    the caller)."""


def http_fetcher(
    *, timeout: float = DEFAULT_TIMEOUT_SECONDS, max_bytes: int = MAX_RESPONSE_BYTES
) -> Fetcher:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def fetch(url: str, body: bytes | None) -> bytes:
        if not url.lower().startswith("http://"):
            raise ValueError(f"only http:// revocation URLs are fetched, not {url!r}")
        headers = {"Content-Type": "application/ocsp-request"} if body is not None else {}
        request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310
        try:
            with opener.open(request, timeout=timeout) as response:
                data: bytes = response.read(max_bytes + 1)
        except urllib.error.HTTPError as exc:
            raise FetchError(f"the server answered HTTP {exc.code}") from None
        except TimeoutError:
            raise FetchError(f"no answer within {timeout:g} s") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise FetchError(f"no answer within {timeout:g} s") from None
            text = getattr(reason, "strerror", None) or str(reason)
            raise FetchError(f"could not be reached ({text})") from None
        except (ConnectionError, OSError) as exc:
            raise FetchError(f"could not be reached ({exc.strerror or exc})") from None
        if len(data) > max_bytes:
            raise FetchError(f"the answer is larger than {max_bytes} bytes")
        return data

    return fetch


def _expiry(body: bytes) -> dt.datetime | None:
    """When a fetched answer stops being current: a CRL's nextUpdate, the earliest
    nextUpdate of an OCSP answer's responses; None (not cached) otherwise."""
    for load in (x509.load_der_x509_crl, x509.load_pem_x509_crl):
        try:
            return load(body).next_update_utc
        except ValueError:
            continue
    try:
        response = ocsp.load_der_ocsp_response(body)
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return None
        updates = [r.next_update_utc for r in response.responses]
    except ValueError:
        return None
    known = [u for u in updates if u is not None]
    return min(known) if known and len(known) == len(updates) else None


class CachingFetcher:
    """`fetcher` with its answers kept by (URL, request) until their nextUpdate, so
    a reconnect does not fetch again. Only answers that parse and say when they
    expire are kept; errors never are. Thread-safe: validations of two endpoints
    may run at once."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._fetcher = fetcher
        self._clock = clock
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, bytes | None], tuple[bytes, dt.datetime]] = {}

    def __call__(self, url: str, body: bytes | None) -> bytes:
        key = (url, body)
        now = self._clock()
        with self._lock:
            cached = self._answers.get(key)
            if cached is not None and cached[1] > now:
                return cached[0]
        answer = self._fetcher(url, body)
        expiry = _expiry(answer)
        if expiry is not None and expiry > now:
            with self._lock:
                if len(self._answers) >= MAX_CACHED_ANSWERS:
                    self._answers.pop(next(iter(self._answers)))
                self._answers[key] = (answer, expiry)
        return answer


_shared_lock = threading.Lock()
_shared: list[CachingFetcher] = []


def shared_fetcher() -> CachingFetcher:
    """One caching HTTP fetcher per process: the connection path and `verify` share
    what they fetched."""
    with _shared_lock:
        if not _shared:
            _shared.append(CachingFetcher(http_fetcher()))
        return _shared[0]


def live_revocation_options(
    crl_files: Sequence[str] = (), *, check: bool = False, forced: bool = False
) -> RevocationOptions:
    """A client's revocation settings as `RevocationOptions`: the CRL files (read
    and parsed now; an unreadable file raises `InputError` naming it), and the
    network (CRL distribution points and OCSP, through the shared caching fetcher)
    when `check` or `forced` asks for it."""
    crls: list[x509.CertificateRevocationList] = []
    for path in crl_files:
        data = read_bounded_file(path, what="CRL file")
        try:
            crls += parse_crls(data)
        except ValueError:
            raise InputError(
                f"CRL file {path}",
                "is not a CRL (DER or PEM 'X509 CRL')",
                fix="give the CA's CRL file",
            ) from None
    online = check or forced
    return RevocationOptions(
        crls=tuple(crls),
        check_ocsp=check,
        fetch_crls=check,
        fetcher=shared_fetcher() if online else None,
    )

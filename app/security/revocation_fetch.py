"""The one place that touches the network for revocation: plain HTTP GET/POST to
CRL distribution points and OCSP responders, bounded in time and size.

HTTP and not HTTPS on purpose: RFC 5280/6960 publish CRLs and OCSP over HTTP (the
answers are signed), and fetching them over TLS would need revocation checks of its
own. Proxies from the environment are not used: a revocation check must not be
redirected silently.
"""

from __future__ import annotations

import urllib.request

from app.security.revocation import Fetcher

# Revocation is on the connection path; a responder slower than this is treated as
# down (browsers use 3-15 s; we are interactive, so the short end).
DEFAULT_TIMEOUT_SECONDS = 5.0
# CRLs of public CAs reach a few MiB; ours are tiny. 4 MiB bounds memory.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


def http_fetcher(
    *, timeout: float = DEFAULT_TIMEOUT_SECONDS, max_bytes: int = MAX_RESPONSE_BYTES
) -> Fetcher:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def fetch(url: str, body: bytes | None) -> bytes:
        if not url.lower().startswith("http://"):
            raise ValueError(f"only http:// revocation URLs are fetched, not {url!r}")
        headers = {"Content-Type": "application/ocsp-request"} if body is not None else {}
        request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310
        with opener.open(request, timeout=timeout) as response:
            data: bytes = response.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ValueError(f"the answer from {url} is larger than {max_bytes} bytes")
        return data

    return fetch

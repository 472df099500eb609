"""The key-exchange groups of one server TLS context (Python 3.11's `ssl` cannot set
them; 3.13 cannot either).

OpenSSL's default list offers X448 and secp521r1 as well, which Mozilla's
"intermediate" profile leaves out (docs/security.md). The list is set with
`SSL_CTX_set1_groups_list` (a macro over `SSL_CTX_ctrl`, SSL_CTRL_SET_GROUPS_LIST) on
the listener's own `SSL_CTX`, reached through ctypes: no OpenSSL configuration file,
no environment variable, nothing another context of the process would notice.

ctypes lives here because the built-in runtime is one of the places the design lets it
live (app/xr and the runtimes). The call is guarded so that it can only act on the
context it was given, and it fails closed: whenever it cannot be applied exactly (no
libssl symbols reachable from `_ssl`, a context whose layout does not match, OpenSSL
refusing the list) it raises `TlsProfileError` and the listener does not start.
"""

from __future__ import annotations

import ctypes
import ssl
import sys
from pathlib import Path

from app.errors import HoloremoteError

# Mozilla Server Side TLS, "intermediate" (version 5.7): "TLS curves: X25519,
# prime256v1, secp384r1", in that order. OpenSSL's names for them.
MOZILLA_INTERMEDIATE_GROUPS = ("X25519", "P-256", "P-384")
# openssl/ssl.h: #define SSL_CTRL_SET_GROUPS_LIST 92 (OpenSSL 1.1.1 and 3.x).
_SSL_CTRL_SET_GROUPS_LIST = 92


class TlsProfileError(HoloremoteError):
    """The listener's TLS profile could not be applied; the listener must not start."""


def _libssl() -> ctypes.CDLL:
    """The libssl that `_ssl` itself uses.

    dlopen of `_ssl`'s own file gives a handle whose symbol lookup also searches the
    libraries it links (ELF and Mach-O), so the functions found are the ones operating
    on the same SSL_CTX structures. On Windows `_ssl.pyd` exports nothing of libssl;
    the DLL beside it is the one it loaded."""
    import _ssl

    candidates: list[str] = []
    module_file = getattr(_ssl, "__file__", None)
    if sys.platform == "win32":
        if module_file:
            folder = Path(module_file).parent
            candidates += [str(p) for p in sorted(folder.glob("libssl-3*.dll"))]
    elif module_file:
        candidates.append(module_file)
    for candidate in candidates:
        try:
            library = ctypes.CDLL(candidate)
            library.SSL_CTX_ctrl  # noqa: B018 - AttributeError when not exported
            library.SSL_CTX_get_options  # noqa: B018
        except (OSError, AttributeError):
            continue
        return library
    raise TlsProfileError(
        "cannot reach the OpenSSL library Python's ssl module uses, so the key-exchange "
        "groups cannot be limited",
        fix="use a Python whose ssl module links OpenSSL dynamically (python.org, Debian, "
        "pyenv builds do)",
    )


def _ssl_ctx_pointer(context: ssl.SSLContext) -> int:
    """The `SSL_CTX *` of `context`: CPython's PySSLContext starts with PyObject_HEAD
    followed by `SSL_CTX *ctx` (Modules/_ssl.c, 3.8 to 3.14)."""
    if type(context) is not ssl.SSLContext:
        raise TlsProfileError("the TLS context is not a plain ssl.SSLContext")
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer:
        raise TlsProfileError("the TLS context has no OpenSSL context")
    return int(pointer)


def restrict_groups(context: ssl.SSLContext, groups: tuple[str, ...]) -> None:
    """Offer and accept only `groups` on `context` (TLS 1.2 ECDHE and TLS 1.3 key
    shares alike), or raise `TlsProfileError` with the context left unchanged."""
    if not groups or any(not name.isascii() or ":" in name for name in groups):
        raise TlsProfileError(f"not a list of TLS group names: {groups!r}")
    library = _libssl()
    get_options = library.SSL_CTX_get_options
    get_options.restype = ctypes.c_uint64
    get_options.argtypes = [ctypes.c_void_p]
    control = library.SSL_CTX_ctrl
    control.restype = ctypes.c_long
    control.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    pointer = _ssl_ctx_pointer(context)
    # The pointer is used only if OpenSSL reads back the options Python set on this
    # very context (a value with many bits set, so a stray match is not plausible).
    if int(get_options(pointer)) != int(context.options):
        raise TlsProfileError(
            "the TLS context does not have the layout this Python is expected to have; "
            "the key-exchange groups cannot be limited"
        )
    wanted = ctypes.c_char_p(":".join(groups).encode("ascii"))
    if control(pointer, _SSL_CTRL_SET_GROUPS_LIST, 0, wanted) != 1:
        raise TlsProfileError(
            f"OpenSSL ({ssl.OPENSSL_VERSION}) refused the key-exchange groups " + ", ".join(groups)
        )

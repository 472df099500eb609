"""The built-in runtime: XR_MSFT_holographic_remoting in pure Python over real TLS.

Layout (sans-I/O cores, thin asyncio shell, as h11 and aioquic):
- `protocol`: names, numbers and size limits of the wire protocol (docs/protocol.md)
- `handshake`: the HTTP/1.1 handshake as client and server state machines (h11)
- `frames`: the transport (length-prefixed frames) as a state machine
- `tls`: TLS contexts and the peer's chain
- `server`, `client`, `shell`: the asyncio shell
- `runtime`: `BuiltinRuntime`, the contract on a background loop; `options`: its settings
"""

from app.remoting.builtin.options import BuiltinOptions
from app.remoting.builtin.runtime import BuiltinRuntime

__all__ = ["BuiltinOptions", "BuiltinRuntime"]

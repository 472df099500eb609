"""Built-in runtime options for tests: short timeouts so failure paths finish in
well under a second or two (the product's defaults are in app/defaults.py)."""

from __future__ import annotations

from typing import Any

from app.remoting.builtin.options import BuiltinOptions


def quick_options(**changes: Any) -> BuiltinOptions:
    values: dict[str, Any] = {
        "tcp_connect_timeout": 2.0,
        "handshake_timeout": 3.0,
        "session_open_timeout": 2.0,
        "heartbeat_interval": 0.2,
        "heartbeat_timeout": 1.5,
        "disconnect_wait": 1.0,
    }
    values.update(changes)
    return BuiltinOptions(**values)

"""The defaults both faces share: ports, realm, timeouts and where files live.

One module, imported by every layer that needs a default (it imports nothing of the
app), so the command line's flags and the window's fields start from the same values.
Paths come from `platformdirs`: one per-user configuration directory holds the
known-hosts file and the window's settings, one cache directory the caches, on every
operating system in its own convention (~/.config/holoremote on Linux,
%LOCALAPPDATA%\\holoremote on Windows, ~/Library/Application Support/holoremote on
macOS).
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "holoremote"

# The ports of Microsoft's samples and runtime: handshake (TLS + HTTP) and transport.
DEFAULT_HANDSHAKE_PORT = 8265
DEFAULT_TRANSPORT_PORT = 8266
DEFAULT_REALM = "holoremote"

# From TCP connected to the 200 answer. Generous because a person may be asked to
# trust a server on first use during it: longer than the time the client policy gives
# that person (app.security.client_policy.DEFAULT_ASK_TIMEOUT_SECONDS, 45 s), so an
# answer given in time is never cut off by the handshake timeout on either end.
HANDSHAKE_TIMEOUT_S = 60.0
# From the 200 answer to the transport session being open, on both ends.
SESSION_OPEN_TIMEOUT_S = 10.0
# After our disconnect request, how long the peer has to close.
DISCONNECT_WAIT_S = 3.0


def config_dir() -> Path:
    """The per-user configuration directory (not created here)."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """The per-user cache directory (not created here)."""
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def known_hosts_file() -> Path:
    """Where trust on first use remembers servers, unless a file is given."""
    return config_dir() / "known_hosts"


def window_settings_file() -> Path:
    """The window's remembered fields (plain values only; secrets go to the keyring)."""
    return config_dir() / "window.ini"

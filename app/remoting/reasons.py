"""Plain-language meaning of every XrRemotingDisconnectReasonMSFT.

A failing connection otherwise says only `HandshakeConnectionFailed (5)`. Each entry
says which side reports it, what it means, and what to do; the CLI, the doctor and
the window all show these texts, and docs/troubleshooting.md expands on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.xr.values import DisconnectReason as R


@dataclass(frozen=True)
class ReasonText:
    reason: R
    side: str  # "client", "server" or "client/server", as the specification says
    explanation: str
    fix: str

    @property
    def spec_name(self) -> str:
        return self.reason.spec_name

    def as_dict(self) -> dict[str, str | int]:
        return {
            "reason": self.reason.spec_name,
            "code": int(self.reason),
            "side": self.side,
            "explanation": self.explanation,
            "fix": self.fix,
        }


def _t(reason: R, side: str, explanation: str, fix: str) -> ReasonText:
    return ReasonText(reason, side, explanation, fix)


_TEXTS: dict[R, ReasonText] = {
    t.reason: t
    for t in (
        _t(R.NONE, "client/server", "The connection succeeded; nothing failed.", "Nothing to do."),
        _t(
            R.UNKNOWN,
            "client/server",
            "The connection failed for a reason the runtime could not name.",
            "Run 'holoremote doctor HOST:PORT' to probe the listener step by step.",
        ),
        _t(
            R.NO_SERVER_CERTIFICATE,
            "server",
            "Secure mode is on, but the server had no usable certificate: the "
            "RequestServerCertificate callback failed, returned no store, a wrong "
            "passphrase, or a subject name that is not in the store.",
            "Check the certificate store with 'holoremote inspect FILE' and pass the "
            "friendly name or subject CN it lists as --subject-name.",
        ),
        _t(
            R.HANDSHAKE_PORT_BUSY,
            "server",
            "The handshake port could not be opened for listening: another program "
            "(or another holoremote) already uses it, or the address is not local.",
            "Stop the other listener or choose another --port (or --ephemeral-port).",
        ),
        _t(
            R.HANDSHAKE_UNREACHABLE,
            "client",
            "The handshake server could not be reached: the host name did not resolve "
            "or the connection attempt timed out.",
            "Check the host name or IP address and that a firewall lets the handshake "
            "port through.",
        ),
        _t(
            R.HANDSHAKE_CONNECTION_FAILED,
            "client",
            "The handshake connection closed early. The two ends most likely disagree "
            "about secure mode (one uses TLS, the other plain TCP), or the client "
            "refused the server's certificate.",
            "Make sure both ends use --secure (or neither), and inspect the server's "
            "chain with 'holoremote doctor HOST:PORT'.",
        ),
        _t(
            R.AUTHENTICATION_FAILED,
            "client/server",
            "The server refused the client's authentication token (wrong, expired or "
            "missing token, or a token for another realm), or refused to check it after "
            "too many failed attempts from this address. A refused token also ends the "
            "server's listen after the client has its answer.",
            "Give the client the token the server accepts (--token-file or "
            "HOLOREMOTE_TOKEN) and check the realm the server announces.",
        ),
        _t(
            R.REMOTING_VERSION_MISMATCH,
            "client/server",
            "Client and server share no remoting version.",
            "Update the older end so both run the same holoremote / remoting version.",
        ),
        _t(
            R.INCOMPATIBLE_TRANSPORT_PROTOCOLS,
            "client",
            "Client and server share no transport protocol.",
            "Update the older end so both offer the same transport.",
        ),
        _t(
            R.HANDSHAKE_FAILED,
            "client/server",
            "The handshake failed for another reason: most often both ends claim the "
            "same role (two remotes or two players), or the peer answered something "
            "the handshake does not allow.",
            "Make one end the remote and the other the player (--role), and run "
            "'holoremote doctor HOST:PORT'.",
        ),
        _t(
            R.TRANSPORT_PORT_BUSY,
            "server",
            "The transport port could not be opened for listening.",
            "Stop the program using it or choose another --transport-port.",
        ),
        _t(
            R.TRANSPORT_UNREACHABLE,
            "client",
            "The handshake worked but the transport port could not be reached.",
            "Let the transport port (default 8266) through the firewall as well as the "
            "handshake port.",
        ),
        _t(
            R.TRANSPORT_CONNECTION_FAILED,
            "client/server",
            "The transport connection closed before all channels were set up (for "
            "example a stale or reused session id, or a TLS failure on the transport "
            "port).",
            "Connect again; if it repeats, check that nothing intercepts the transport port.",
        ),
        _t(
            R.PROTOCOL_VERSION_MISMATCH,
            "client/server",
            "The transport closed because the two ends speak different protocol versions.",
            "Run the same holoremote version on both ends.",
        ),
        _t(
            R.PROTOCOL_ERROR,
            "client/server",
            "The peer sent something the protocol does not allow, severe enough to end "
            "the connection.",
            "Check that the peer is a holoremote-compatible endpoint (see "
            "docs/protocol.md) and not another service on that port.",
        ),
        _t(
            R.VIDEO_CODEC_NOT_AVAILABLE,
            "client/server",
            "The requested video codec is not available on both ends.",
            "Choose codec 'any' or one both devices support.",
        ),
        _t(
            R.CANCELED,
            "client/server",
            "The connection attempt was canceled (Disconnect was pressed, or the "
            "program was interrupted, before it completed).",
            "Connect again and let the attempt finish.",
        ),
        _t(
            R.CONNECTION_LOST,
            "client/server",
            "The peer closed the connection or went away without a disconnect request.",
            "Check that the other end is still running and the network is stable.",
        ),
        _t(
            R.DEVICE_LOST,
            "client/server",
            "The connection closed because the graphics device was lost.",
            "Restart the app; update the graphics driver if it repeats.",
        ),
        _t(
            R.DISCONNECT_REQUEST,
            "client/server",
            "The connection was closed on this end's own request.",
            "Nothing to do.",
        ),
        _t(
            R.HANDSHAKE_NETWORK_UNREACHABLE,
            "client",
            "The network is unreachable: this machine knows no route to the host.",
            "Check the address, the network connection and any VPN.",
        ),
        _t(
            R.HANDSHAKE_CONNECTION_REFUSED,
            "client",
            "The host actively refused the connection: nothing listens on that port.",
            "Start the listener on the other end (holoremote listen) or fix --port.",
        ),
        _t(
            R.VIDEO_FORMAT_NOT_AVAILABLE,
            "client/server",
            "The requested video format is not available.",
            "Choose a video format both ends support.",
        ),
        _t(
            R.PEER_DISCONNECT_REQUEST,
            "client/server",
            "The other end asked to disconnect, and the connection closed cleanly.",
            "Nothing to do, unless the other end was not meant to stop.",
        ),
        _t(
            R.PEER_DISCONNECT_TIMEOUT,
            "client/server",
            "This end asked to disconnect and the peer did not close in time.",
            "Nothing to fix here; check the peer if it keeps happening.",
        ),
        _t(
            R.SESSION_OPEN_TIMEOUT,
            "client/server",
            "The transport session did not open in time: the handshake succeeded but "
            "the transport connection never completed.",
            "Check the network between the ends and that the transport port (default "
            "8266) is reachable.",
        ),
        _t(
            R.REMOTING_HANDSHAKE_TIMEOUT,
            "client/server",
            "The handshake did not complete in time: the peer accepted the connection "
            "but stopped answering (a slow callback, a wrong service on that port, or "
            "a TLS/plain mismatch that leaves one end waiting).",
            "Check that the port belongs to a holoremote listener and that both ends use "
            "the same secure mode.",
        ),
        _t(
            R.INTERNAL_ERROR,
            "client/server",
            "The connection failed because of an internal error in the runtime.",
            "Retry; if it repeats, report it with the event log (--json).",
        ),
        _t(
            R.HANDSHAKE_PERMISSION_DENIED,
            "client",
            "The operating system denied opening the connection (permissions or a "
            "local firewall rule).",
            "Allow the app through the local firewall, or use a port above 1023.",
        ),
    )
}


def explain(reason: R | int) -> ReasonText:
    """Text for a reason; an unknown number is explained as such rather than raising."""
    try:
        return _TEXTS[R(reason)]
    except ValueError:
        return ReasonText(
            R.UNKNOWN,
            "client/server",
            f"The runtime reported disconnect reason {int(reason)}, which this version "
            "does not know.",
            "Update holoremote; meanwhile run 'holoremote doctor HOST:PORT'.",
        )


def all_texts() -> list[ReasonText]:
    return [_TEXTS[r] for r in R]

"""One end of a connection in its own process, for the tests that put both ends on
the OpenXR path (the Khronos loader allows one XrInstance per process).

Until the `holoremote listen/connect` commands are on this branch this small driver
stands in for them: same runtime selection (`create_runtime`), same Session, same
callbacks; secrets come from files, never argv. Prints one JSON object per line and
exits 0 (connected and closed cleanly) or 3 (connection failed), like the CLI.

    python -m tests.app.xr.peer listen|connect --runtime R [--runtime-json F]
        --secrets DIR [--port P] [--token-file F]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from app.remoting.builtin import BuiltinOptions
from app.remoting.selection import create_runtime
from app.security.callback_types import ServerCertificateMaterial
from app.security.callbacks import fixed_server_certificate, fixed_token
from app.session import Session, SessionConfig
from app.session_events import CallbackCalled, Connected, Disconnected, Listening
from tests.app.xr.e2e_support import ca_validator

TIMEOUT = 15.0


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def main(args: argparse.Namespace) -> int:
    folder = Path(args.secrets)
    role = "player" if args.mode == "listen" else "remote"
    runtime, why = create_runtime(
        args.runtime, args.runtime_json, BuiltinOptions.for_tests(role=role)
    )
    emit(event="runtime", why=why)
    token = Path(args.token_file or folder / "token.txt").read_text().strip()
    if args.mode == "listen":
        material = ServerCertificateMaterial(
            cert_store=(folder / "server.pfx").read_bytes(),
            key_passphrase=(folder / "passphrase.txt").read_text().strip(),
            subject_name=(folder / "subject.txt").read_text().strip(),
        )
        session = Session.with_callbacks(
            SessionConfig(
                mode="listen",
                port=0,
                transport_port=0,
                listen_interface="127.0.0.1",
                role="player",
                realm="holo-test",
            ),
            runtime,
            token_validator=lambda t: t == token,
            server_certificate_provider=fixed_server_certificate(material),
        )
    else:
        session = Session.with_callbacks(
            SessionConfig(mode="connect", host="127.0.0.1", port=args.port, role="remote"),
            runtime,
            token_provider=fixed_token(token),
            certificate_validator=ca_validator((folder / "ca.pem").read_bytes()),
        )
    outcome = 3
    async with session:
        await session.start()
        cursor = 0
        connected = False
        async with asyncio.timeout(TIMEOUT):
            async for event in session.events():
                cursor += 1
                if isinstance(event, Listening):
                    emit(event="listening", port=event.port)
                elif isinstance(event, CallbackCalled):
                    emit(event="callback", **event.record.to_json())
                elif isinstance(event, Connected):
                    connected = True
                    emit(event="connected")
                    if args.mode == "connect":
                        await session.disconnect()
                elif isinstance(event, Disconnected):
                    emit(event="disconnected", reason=event.reason.spec_name)
                    clean = event.reason.spec_name.endswith(
                        ("_DISCONNECT_REQUEST_MSFT", "_PEER_DISCONNECT_REQUEST_MSFT")
                    )
                    outcome = 0 if connected and clean else 3
                    break
    return outcome


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["listen", "connect"])
    parser.add_argument("--runtime", default="auto")
    parser.add_argument("--runtime-json")
    parser.add_argument("--secrets", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token-file")
    sys.exit(asyncio.run(main(parser.parse_args())))

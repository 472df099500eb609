"""Secret hygiene through the command line, end to end: a whole secure session (and
the usual failures around it) with a known token and key passphrase, every log line
at DEBUG, every --json event, every error text and traceback the processes print;
none of them may contain either secret, in any common encoding."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

from app.security.testpki import create_test_pki
from tests.app.remoting.cli_support import ROOT, env

TOKEN = "Tk-hygiene-7f3a9c21e4b8d6055aa1"
PASSPHRASE = "Pp-hygiene-4c2e8b7d1a9f3e60"
TIMEOUT_S = 60
# Each process logs everything (DEBUG, every logger) and dumps a traceback on a hard
# crash, so whatever it would ever print is in its output.
DEBUG_MAIN = (
    "import logging, faulthandler, sys; faulthandler.enable();"
    "logging.basicConfig(level=logging.DEBUG, format='%(name)s %(levelname)s %(message)s');"
    "from app.cli import main; sys.exit(main(sys.argv[1:]))"
)


def forms(secret: str) -> list[str]:
    """The secret as it might leak: plain, in repr or JSON escapes it is the same;
    base64 and hex of its bytes; cut in half (a truncated message)."""
    raw = secret.encode()
    return [
        secret,
        secret[: len(secret) // 2 + 4],
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
    ]


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", DEBUG_MAIN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env(PYTHONFAULTHANDLER="1"),
    )


def run(*args: str) -> str:
    process = start(*args)
    out, err = process.communicate(timeout=TIMEOUT_S)
    return out + err


def test_no_secret_in_any_output_of_a_whole_cli_session(tmp_path: Path) -> None:
    pki = create_test_pki(["localhost"], ["127.0.0.1"], intermediate=True)
    paths = pki.write(tmp_path)
    # The store is re-exported under the test's own passphrase.
    from app.security.testpki import export_pkcs12

    pfx = tmp_path / "hygiene.pfx"
    pfx.write_bytes(
        export_pkcs12(
            pki.server, pki.chain[1:], friendly_name=pki.friendly_name, passphrase=PASSPHRASE
        )
    )
    token_file = tmp_path / "token.txt"
    token_file.write_text(TOKEN + "\n")
    passphrase_file = tmp_path / "passphrase.txt"
    passphrase_file.write_text(PASSPHRASE + "\n")
    wrong_token = tmp_path / "wrong.txt"
    wrong_token.write_text("Tk-wrong-but-plausible-0000000000\n")
    bad_token = tmp_path / "bad.txt"
    bad_token.write_text(TOKEN + " with spaces\u0007\n")
    wrong_pass = tmp_path / "wrong-pass.txt"
    wrong_pass.write_text(PASSPHRASE[::-1] + "\n")

    listen_args = [
        "listen",
        "--json",
        "--ephemeral-port",
        "--listen-interface",
        "127.0.0.1",
        "--cert-store",
        str(pfx),
        "--key-passphrase-file",
        str(passphrase_file),
        "--token-file",
        str(token_file),
    ]
    listener = start(*listen_args)
    outputs: list[str] = []
    try:
        assert listener.stdout is not None
        port = None
        for line in listener.stdout:
            outputs.append(line)
            if '"event": "listening"' in line:
                port = int(line.split('"port": ')[1].split(",")[0])
                break
        assert port is not None, outputs
        connect = ["connect", f"127.0.0.1:{port}", "--ca-file", str(paths["ca"])]
        # A whole session, in --json and in text.
        outputs.append(run(*connect, "--json", "--hold", "0.2", "--token-file", str(token_file)))
        outputs.append(run(*connect, "--hold", "0.2", "--token-file", str(token_file)))
        # Failures: a wrong token (refused by the listener, which listens again), a
        # token file that cannot be sent.
        outputs.append(run(*connect, "--json", "--token-file", str(wrong_token)))
        outputs.append(run(*connect, "--token-file", str(bad_token)))
        outputs.append(run(*connect, "--json", "--hold", "0.2", "--token-file", str(token_file)))
    finally:
        listener.terminate()
        out, err = listener.communicate(timeout=TIMEOUT_S)
        outputs += [out, err]
    # The store opened with the wrong passphrase, and a doctor run.
    outputs.append(
        run(
            *listen_args[:-4],
            "--key-passphrase-file",
            str(wrong_pass),
            "--token-file",
            str(token_file),
            "--once",
        )
    )
    outputs.append(run("inspect", str(pfx), "--json", "--passphrase-file", str(passphrase_file)))
    text = "\n".join(outputs)
    assert '"event": "connected"' in text, text[-3000:]  # the session did happen
    assert "AUTHENTICATION_FAILED" in text, text[-3000:]
    for secret in (TOKEN, PASSPHRASE):
        for form in forms(secret):
            assert form not in text, f"{form!r} appears in the output"

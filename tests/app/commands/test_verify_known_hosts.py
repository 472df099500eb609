"""`holoremote verify --known-hosts FILE`: trust on first use from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from app.security.testpki import GeneratedPki, create_test_pki


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | GeneratedPki]:
    """Two unrelated self-made PKIs for the same host: the second one's certificate
    plays a replaced (or attacker's) certificate."""
    base = tmp_path_factory.mktemp("tofu")
    first = create_test_pki(["server.test"], [])
    second = create_test_pki(["server.test"], [])
    (base / "first.pem").write_bytes(first.server.pem)
    (base / "second.pem").write_bytes(second.server.pem)
    return {"dir": base, "first": first, "second": second}


def _verify(
    chain: Path, hosts: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str]:
    status = main(
        ["verify", str(chain), "--host", "server.test", "--known-hosts", str(hosts), *extra]
    )
    out, err = capsys.readouterr()
    return status, out + err


def test_unknown_host_is_refused_and_nothing_is_written(
    two: dict[str, Path | GeneratedPki], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hosts = tmp_path / "known_hosts"
    status, out = _verify(two["dir"] / "first.pem", hosts, capsys)  # type: ignore[operator]
    assert status == 1 and "REFUSED" in out
    assert "server.test:8265 is not in" in out and "--trust-on-first-use" in out
    assert not hosts.exists()


def test_first_use_learns_saves_and_says_so_then_accepts(
    two: dict[str, Path | GeneratedPki], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hosts = tmp_path / "sub" / "known_hosts"
    first: GeneratedPki = two["first"]  # type: ignore[assignment]
    chain = two["dir"] / "first.pem"  # type: ignore[operator]
    status, out = _verify(chain, hosts, capsys, "--trust-on-first-use")
    assert status == 0 and "ACCEPTED" in out
    assert f"saved server.test:8265 SHA-256 {first.sha256_thumbprint}" in out
    assert f"server.test:8265 {first.sha256_thumbprint}" in hosts.read_text()
    status, out = _verify(chain, hosts, capsys)  # remembered: no flag needed any more
    assert status == 0 and "remembered for server.test:8265" in out


def test_changed_key_is_refused_naming_file_and_line(
    two: dict[str, Path | GeneratedPki], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hosts = tmp_path / "known_hosts"
    first: GeneratedPki = two["first"]  # type: ignore[assignment]
    hosts.write_text(
        f"# mine\nother.test:8265 {'ab' * 32}\nserver.test:8265 {first.sha256_thumbprint}\n"
    )
    before = hosts.read_text()
    chain = two["dir"] / "second.pem"  # type: ignore[operator]
    status, out = _verify(chain, hosts, capsys, "--trust-on-first-use", "--json")
    report = json.loads(out[: out.rindex("}") + 1])
    assert status == 1 and not report["accepted"]
    (note,) = report["knownHosts"]
    assert "CHANGED" in note and f"remove line 3 of {hosts}" in note
    assert hosts.read_text() == before  # a changed key is never learned, even with the flag


def test_host_port_selects_the_entry(
    two: dict[str, Path | GeneratedPki], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hosts = tmp_path / "known_hosts"
    first: GeneratedPki = two["first"]  # type: ignore[assignment]
    hosts.write_text(f"server.test:9000 {first.sha256_thumbprint}\n")
    chain = two["dir"] / "first.pem"  # type: ignore[operator]
    assert _verify(chain, hosts, capsys, "--host-port", "9000")[0] == 0
    status, out = _verify(chain, hosts, capsys)
    assert status == 1 and "server.test:8265 is not in" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--trust-on-first-use"], "--trust-on-first-use"),
        (["--host-port", "9000"], "--host-port"),
        (["--known-hosts", "K", "--host-port", "0"], "is not a TCP port"),
        (["--known-hosts", "K", "--pin", "SHA256:" + "ab" * 32], "trust on first use"),
    ],
)
def test_usage_errors_exit_2(
    two: dict[str, Path | GeneratedPki],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    words: str,
) -> None:
    argv = [str(tmp_path / a) if a == "K" else a for a in argv]
    chain = str(two["dir"] / "first.pem")  # type: ignore[operator]
    status = main(["verify", chain, "--host", "server.test", *argv])
    _, err = capsys.readouterr()
    assert status == 2 and words in err

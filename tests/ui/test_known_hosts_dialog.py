"""Settings > Known hosts: list, remove, and replace after the person confirms the new
fingerprint, fetched from a real listener on 127.0.0.1."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from app.security.known_hosts import load_known_hosts
from tests.ui.test_loopback import _listen
from ui.known_hosts_dialog import KnownHostsDialog, ReplaceHostDialog, grouped
from ui.window import MainWindow

OLD = "11" * 32
OTHER = "22" * 32


def _write(path: Path, entries: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# holoremote known hosts\n" + "".join(f"{k} {v}\n" for k, v in entries.items()),
        encoding="utf-8",
    )


def _dialog(qtbot, window: MainWindow, path: Path) -> KnownHostsDialog:
    window.endpoint.client_panel.known_hosts.setText(str(path))
    dialog = window.open_known_hosts()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == len(dialog.entries) > 0, timeout=5_000)
    return dialog


def test_lists_and_removes(qtbot, window: MainWindow, tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    _write(path, {"headset.lab:8265": OLD, "127.0.0.1:9000": OTHER})
    dialog = _dialog(qtbot, window, path)
    assert [dialog.table.item(r, 0).text() for r in range(2)] == [
        "127.0.0.1:9000",
        "headset.lab:8265",
    ]
    assert dialog.table.item(1, 1).text() == grouped(OLD)  # groups of four: it fits
    assert not dialog.remove_button.isEnabled()
    dialog.select("headset.lab:8265")
    assert dialog.remove_button.isEnabled()
    dialog.remove_button.click()
    qtbot.waitUntil(lambda: len(dialog.entries) == 1, timeout=5_000)
    assert dict(load_known_hosts(path).entries) == {"127.0.0.1:9000": OTHER}
    assert "1 host(s)" in dialog.status.text()


def test_replace_after_confirming_the_fetched_fingerprint(
    qtbot, ends, pki, pki_files: dict[str, Path], tmp_path: Path
) -> None:
    server, client = ends
    port = _listen(qtbot, server, pki_files)
    endpoint = f"127.0.0.1:{port}"
    path = tmp_path / "known_hosts"
    _write(path, {endpoint: OLD})
    dialog = _dialog(qtbot, client, path)
    dialog.select(endpoint)
    replace = dialog.open_replace()
    assert isinstance(replace, ReplaceHostDialog)
    assert replace.old.text() == grouped(OLD)
    assert not replace.replace_button.isEnabled()
    replace.fetch.click()
    leaf = pki.chain[0].public_bytes(serialization.Encoding.DER)
    served = hashlib.sha256(leaf).hexdigest()
    qtbot.waitUntil(lambda: replace.new_sha256() == served, timeout=10_000)
    # Not before the person says they checked it.
    assert not replace.replace_button.isEnabled()
    replace.confirmed.setChecked(True)
    assert replace.replace_button.isEnabled()
    replace.replace_button.click()
    qtbot.waitUntil(lambda: dialog.entries == [(endpoint, served)], timeout=5_000)
    assert dict(load_known_hosts(path).entries) == {endpoint: served}


def test_replace_refuses_garbage_and_the_same_fingerprint(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    path = tmp_path / "known_hosts"
    _write(path, {"headset.lab:8265": OLD})
    dialog = _dialog(qtbot, window, path)
    dialog.select("headset.lab:8265")
    replace = dialog.open_replace()
    assert replace is not None
    replace.confirmed.setChecked(True)
    replace.new.setText("not a fingerprint")
    assert not replace.replace_button.isEnabled()
    assert "not 64 hex digits" in replace.status.text()
    replace.new.setText(":".join(OLD[i : i + 2] for i in range(0, 64, 2)).upper())
    assert not replace.replace_button.isEnabled()
    assert "already remembered" in replace.status.text()
    replace.new.setText("SHA256:" + OTHER)
    assert replace.replace_button.isEnabled()

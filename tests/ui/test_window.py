"""The real main window, offscreen: fields, store loading, inspector, settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialogButtonBox, QInputDialog, QLineEdit

from app.xr.records import CALLBACK_NAMES, CallbackRecord
from tests.ui.conftest import PASSPHRASE, TOKEN
from ui.secrets import KeyringSecretStore, NotRememberingStore, open_secret_store
from ui.window import MainWindow


def _listen(window: MainWindow) -> None:
    window.endpoint.set_mode("listen")


def test_mode_switches_panels_and_buttons(window: MainWindow) -> None:
    e = window.endpoint
    assert e.client_panel.isVisible() and not e.server_panel.isVisible()
    assert e.connect_button.isVisible() and not e.listen_button.isVisible()
    assert not e.disconnect_button.isEnabled()
    _listen(window)
    assert e.server_panel.isVisible() and not e.client_panel.isVisible()
    assert e.listen_button.isVisible() and e.listen_interface.isVisible()
    assert not e.host.isVisible() and e.listen_once.isVisible()
    assert "built-in" in e.runtime_label.text()
    e.runtime_choice.setCurrentIndex(e.runtime_choice.findData("openxr"))
    e.runtime_json.setText("/opt/remoting/RemotingXR.json")
    assert e.runtime_label.text() == "OpenXR: /opt/remoting/RemotingXR.json"


def test_store_loads_and_fills_subject_names(qtbot, window: MainWindow, pki_files) -> None:
    _listen(window)
    panel = window.endpoint.server_panel
    panel.passphrase.setText(PASSPHRASE)
    panel.store_path.setText(str(pki_files["pfx"]))
    panel.load_store()
    qtbot.waitUntil(lambda: panel.subject_name.count() > 0, timeout=5000)
    names = [panel.subject_name.itemText(i) for i in range(panel.subject_name.count())]
    assert "holoremote-test" in names and "localhost" in names
    assert "PKCS#12, 3 certificate(s), 1 with a private key" in panel.store_status.text()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            b"this is not a certificate at all\n",
            "is not a certificate, private key or PKCS#12 store",
        ),
        (b"-----BEGIN CERTIFICATE-----\nMIIB\n", "is truncated"),
        (b"", "is empty"),
    ],
)
def test_bad_certificate_file_names_file_and_problem(
    qtbot, window: MainWindow, tmp_path: Path, content: bytes, problem: str
) -> None:
    bad = tmp_path / "broken-server.pfx"
    bad.write_bytes(content)
    _listen(window)
    panel = window.endpoint.server_panel
    panel.store_path.setText(str(bad))
    panel.load_store()
    qtbot.waitUntil(
        lambda: (
            str(bad) in panel.store_status.text() and "Loading" not in panel.store_status.text()
        ),
        timeout=5000,
    )
    text = panel.store_status.text()
    assert problem in text
    assert panel.store_status.property("severity") == "error"


def test_wrong_passphrase_names_file(qtbot, window: MainWindow, pki_files) -> None:
    _listen(window)
    panel = window.endpoint.server_panel
    panel.passphrase.setText("not the passphrase")
    panel.store_path.setText(str(pki_files["pfx"]))
    panel.load_store()
    qtbot.waitUntil(lambda: "passphrase" in panel.store_status.text(), timeout=5000)
    assert str(pki_files["pfx"]) in panel.store_status.text()
    assert "not the passphrase" not in panel.store_status.text()


def test_inspect_file_and_bad_file(qtbot, window: MainWindow, pki_files, tmp_path: Path) -> None:
    window.inspect_file(str(pki_files["pfx"]), PASSPHRASE)
    qtbot.waitUntil(lambda: len(window.inspector.certificate_titles()) == 3, timeout=5000)
    assert window.tabs.currentWidget() is window.inspector
    assert "holoremote-test" in window.inspector.certificate_titles()[0]
    assert "CN=localhost" in window.inspector.leaf_subject()
    bad = tmp_path / "garbage.crt"
    bad.write_bytes(b"\x30\x82\xff\xff garbage")
    window.inspect_file(str(bad))
    qtbot.waitUntil(lambda: window.inspector.message_label.isVisible(), timeout=5000)
    assert str(bad) in window.inspector.message_label.text()
    assert "truncated" in window.inspector.message_label.text()


def test_records_reach_timeline_and_inspector(
    qtbot, window: MainWindow, records: list[CallbackRecord]
) -> None:
    window.endpoint.recordsArrived.emit(tuple(records))
    model = window.timeline.model
    qtbot.waitUntil(lambda: model.rowCount() == len(records), timeout=3000)
    assert {model.index(r, 2).data() for r in range(model.rowCount())} == set(CALLBACK_NAMES)
    qtbot.waitUntil(lambda: window.inspector.leaf_subject() != "", timeout=5000)
    assert "CN=localhost" in window.inspector.leaf_subject()
    assert "Chain presented by 127.0.0.1" in window.inspector.title_label.text()
    assert all(window.inspector.check_marks().values())


def test_policy_warnings_visible_when_on(window: MainWindow) -> None:
    panel = window.endpoint.client_panel
    assert panel.active_warnings() == []
    panel.allow_name_mismatch.setChecked(True)
    panel.allow_unverified_chain.setChecked(True)
    panel.tofu.setChecked(True)
    panel.system_validation.setChecked(False)
    warnings = " ".join(panel.active_warnings())
    for phrase in (
        "Name mismatch allowed",
        "Unverified chain allowed",
        "Trust on first use",
        "System validation by the runtime is off",
    ):
        assert phrase in warnings
    panel.allow_name_mismatch.setChecked(False)
    assert "Name mismatch allowed" not in " ".join(panel.active_warnings())


def test_token_field_masked_with_show_hide(window: MainWindow) -> None:
    panel = window.endpoint.client_panel
    panel.token.setText(TOKEN)
    assert panel.token.echoMode() == panel.token.EchoMode.Password
    panel.token_show.trigger()
    assert panel.token.echoMode() == panel.token.EchoMode.Normal
    panel.token_show.trigger()
    assert panel.token.echoMode() == panel.token.EchoMode.Password


def _fill_secrets_and_plain(window: MainWindow) -> None:
    e = window.endpoint
    e.host.setText("headset.example")
    e.port.setValue(9265)
    e.client_panel.token.setText(TOKEN)
    e.client_panel.ca_file.setText("/etc/holoremote/ca.pem")
    e.server_panel.passphrase.setText(PASSPHRASE)
    e.server_panel.shared_secrets.setText("accepted-secret-one accepted-secret-two")
    e.server_panel.realm.setText("lab-realm")


def _secret_values() -> list[str]:
    return [TOKEN, PASSPHRASE, "accepted-secret-one", "accepted-secret-two"]


def test_no_secret_written_to_qsettings(window: MainWindow, settings_file: Path) -> None:
    _fill_secrets_and_plain(window)
    window.save_settings()
    text = settings_file.read_text(encoding="utf-8")
    assert "headset.example" in text and "lab-realm" in text and "9265" in text
    for secret in _secret_values():
        assert secret not in text
    # Opting in changes nothing in the file either (secrets go to the keyring).
    window.remember_action.setChecked(True)
    window.save_settings()
    text = settings_file.read_text(encoding="utf-8")
    for secret in _secret_values():
        assert secret not in text
    assert "rememberSecretsInKeyring=true" in text


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory keyring backend (the OS keyring's stand-in in tests)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def delete_password(self, service: str, username: str) -> None:
        self.values.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_opted_in_secrets_go_to_keyring_and_come_back(
    qtbot, qasync_loop, qsettings: QSettings, settings_file: Path, memory_keyring: MemoryKeyring
) -> None:
    store = open_secret_store()
    assert isinstance(store, KeyringSecretStore) and store.is_persistent
    first = MainWindow(qsettings, secret_store=store)
    qtbot.addWidget(first)
    _fill_secrets_and_plain(first)
    first.remember_action.setChecked(True)
    first.save_settings()
    qtbot.waitUntil(lambda: not first.jobs.busy, timeout=5000)
    assert memory_keyring.values[("holoremote", "endpoint/token")] == TOKEN
    assert memory_keyring.values[("holoremote", "endpoint/passphrase")] == PASSPHRASE
    text = settings_file.read_text(encoding="utf-8")
    for secret in _secret_values():
        assert secret not in text

    second = MainWindow(
        QSettings(str(settings_file), QSettings.Format.IniFormat), secret_store=store
    )
    qtbot.addWidget(second)
    with qtbot.waitSignal(second.secretsLoaded, timeout=5000):
        pass
    assert second.endpoint.client_panel.token.text() == TOKEN
    assert second.endpoint.host.text() == "headset.example"
    # Opting out forgets them.
    second.remember_action.setChecked(False)
    qtbot.waitUntil(lambda: not second.jobs.busy, timeout=5000)
    assert ("holoremote", "endpoint/token") not in memory_keyring.values


def test_without_keyring_the_store_says_it_is_not_remembering(qasync_loop) -> None:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        store = open_secret_store()
    finally:
        keyring.set_keyring(previous)
    assert isinstance(store, NotRememberingStore)
    assert not store.is_persistent
    assert "not remembering" in store.description


def test_generate_and_file_tokens(qtbot, window: MainWindow, tmp_path: Path) -> None:
    panel = window.endpoint.client_panel
    panel.generate_button.click()
    qtbot.waitUntil(lambda: len(panel.token.text()) >= 22, timeout=5000)
    first = panel.token.text()
    panel.generate_button.click()
    qtbot.waitUntil(lambda: panel.token.text() != first, timeout=5000)
    token_file = tmp_path / "token.txt"
    token_file.write_text(TOKEN + "\n")
    panel.load_token_file(str(token_file))
    qtbot.waitUntil(lambda: panel.token.text() == TOKEN, timeout=5000)
    panel.load_token_file(str(tmp_path / "missing.txt"))
    qtbot.waitUntil(lambda: panel.token_status.isVisible(), timeout=5000)
    assert "missing.txt" in panel.token_status.text()


def test_create_test_pki_dialog_fills_the_server_panel(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    from ui.dialogs import CreateTestPkiDialog

    dialog = CreateTestPkiDialog(window)
    qtbot.addWidget(dialog)
    dialog.created.connect(window.use_test_pki)
    dialog.out_dir.setText(str(tmp_path / "made"))
    dialog.create_files()
    qtbot.waitUntil(lambda: dialog.use_button.isEnabled(), timeout=10_000)
    text = dialog.result_text.toPlainText()
    assert "server.pfx" in text and "pin: SHA256:" in text
    assert dialog.files is not None and dialog.files.passphrase not in text
    assert not dialog.qr_label.pixmap().isNull()
    dialog.use_button.click()
    panel = window.endpoint.server_panel
    assert panel.store_path.text().endswith("server.pfx")
    qtbot.waitUntil(lambda: panel.subject_name.count() > 0, timeout=5000)
    assert "holoremote-server" in [
        panel.subject_name.itemText(i) for i in range(panel.subject_name.count())
    ]
    assert window.endpoint.client_panel.ca_file.text().endswith("ca.pem")


def test_verify_chain_for_wrong_host_marks_name_check_failed(
    qtbot, window: MainWindow, pki_files
) -> None:
    window.verify_chain(str(pki_files["chain"]), "wrong.example", str(pki_files["ca"]))
    qtbot.waitUntil(lambda: len(window.inspector.check_marks()) == 7, timeout=10_000)
    marks = window.inspector.check_marks()
    assert marks["nameMismatch"] is False
    assert marks["trustedRoot"] is True
    assert "would refuse" in window.inspector.title_label.text()
    window.verify_chain(str(pki_files["chain"]), "127.0.0.1", str(pki_files["ca"]))
    qtbot.waitUntil(lambda: "would accept" in window.inspector.title_label.text(), timeout=10_000)
    assert all(window.inspector.check_marks().values())


# --- Tools menu dialogs with a bad file ----------------------------------------------------


def test_verify_dialog_with_a_bad_chain_file_names_the_file(
    qtbot, window: MainWindow, tmp_path: Path, pki_files
) -> None:
    bad = tmp_path / "not-a-chain.pem"
    bad.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    dialog = window.open_verify()
    qtbot.waitUntil(dialog.isVisible)
    dialog.chain_file.setText(str(bad))
    dialog.host.setText("localhost")
    dialog.ca_file.setText(str(pki_files["ca"]))
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(window.inspector.message_label.isVisible, timeout=5000)
    assert window.tabs.currentWidget() is window.inspector
    assert str(bad) in window.inspector.title_label.text()
    message = window.inspector.message_label.text()
    assert message.startswith(f"{bad}: ") and "is not valid base64" in message
    assert "Fix: copy or export the file again" in message


def test_verify_dialog_with_a_missing_ca_file_names_it(
    qtbot, window: MainWindow, tmp_path: Path, pki_files
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    dialog = window.open_verify()
    dialog.chain_file.setText(str(pki_files["chain"]))
    dialog.host.setText("localhost")
    dialog.ca_file.setText(str(missing))
    dialog.accept()
    qtbot.waitUntil(window.inspector.message_label.isVisible, timeout=5000)
    assert str(missing) in window.inspector.message_label.text()


def test_inspect_dialog_with_a_bad_file_names_the_file(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    bad = tmp_path / "corrupt.der"
    bad.write_bytes(b"\x30\x82\x01\x00 this is not DER")
    dialog = window.choose_file_to_inspect()
    qtbot.waitUntil(dialog.isVisible)
    dialog.selectFile(str(bad))
    dialog.accept()
    qtbot.waitUntil(window.inspector.message_label.isVisible, timeout=5000)
    assert f"Cannot inspect {bad}" in window.inspector.title_label.text()
    assert window.inspector.message_label.text().startswith(f"{bad}: ")


def test_inspect_dialog_asks_a_pfx_passphrase_and_names_the_file_when_wrong(
    qtbot, window: MainWindow, pki_files
) -> None:
    dialog = window.choose_file_to_inspect()
    dialog.selectFile(str(pki_files["pfx"]))
    dialog.accept()
    ask = window.findChild(QInputDialog, "inspectPassphraseDialog")
    assert ask is not None and ask.textEchoMode() == QLineEdit.EchoMode.Password
    ask.setTextValue("not the passphrase")
    ask.accept()
    qtbot.waitUntil(window.inspector.message_label.isVisible, timeout=5000)
    message = window.inspector.message_label.text()
    assert str(pki_files["pfx"]) in message and "passphrase" in message
    assert "not the passphrase" not in message
    # The right passphrase shows the chain.
    dialog = window.choose_file_to_inspect()
    dialog.selectFile(str(pki_files["pfx"]))
    dialog.accept()
    ask = window.findChild(QInputDialog, "inspectPassphraseDialog")
    ask.setTextValue(PASSPHRASE)
    ask.accept()
    qtbot.waitUntil(lambda: len(window.inspector.certificate_titles()) == 3, timeout=5000)
    assert not window.inspector.message_label.isVisible()


def test_client_panel_revocation_settings_reach_the_validator_and_runtime(
    window: MainWindow, tmp_path: Path
) -> None:
    from ui import field_values, session_opening

    panel = window.endpoint.client_panel
    crl_a, crl_b = tmp_path / "a.crl", tmp_path / "b.crl"
    panel.check_revocation.setChecked(True)
    panel.force_revocation_check.setChecked(True)
    panel.crl_files.setText(f"{crl_a} ; {crl_b}")
    client = panel.settings()
    auth = session_opening.client_auth_settings(client)
    assert auth.check_revocation and auth.force_revocation_check
    assert auth.crl_files == (str(crl_a), str(crl_b))
    from app.endpoint import service

    options = service.builtin_options("remote", force_revocation_check=auth.force_revocation_check)
    assert options.force_revocation_check  # forceRevocationCheck, from the client setting
    # A CRL file that is not a CRL is named in the window's words before connecting.
    crl_a.write_bytes(b"garbage")
    panel.token.setText(TOKEN)
    settings = field_values.EndpointSettings(mode="connect", client=panel.settings())
    with pytest.raises(Exception, match=r"CRL files .*a\.crl.*is not a CRL") as caught:
        session_opening.open_session(settings, ask_trust_on_first_use=lambda question: False)
    assert "Traceback" not in str(caught.value)

"""Trust on first use: the callback thread waits, the UI thread keeps running."""

from __future__ import annotations

import threading

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QPlainTextEdit

from app.security.testpki import GeneratedPki
from ui.tofu import TofuDialog, TofuPrompter


def _ask_in_thread(
    prompter: TofuPrompter, pki: GeneratedPki, answers: list[bool]
) -> threading.Thread:
    chain = tuple(c.public_bytes(Encoding.DER) for c in pki.chain)
    thread = threading.Thread(
        target=lambda: answers.append(prompter.ask("127.0.0.1", pki.sha256_thumbprint, chain)),
        name="runtime-callback",
    )
    return thread


@pytest.mark.parametrize(("button", "expected"), [("trust", True), ("refuse", False)])
def test_dialog_answers_the_waiting_callback_thread(
    qtbot, qasync_loop, pki: GeneratedPki, button: str, expected: bool
) -> None:
    prompter = TofuPrompter(timeout_s=20)
    answers: list[bool] = []
    ticks: list[int] = []
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: ticks.append(1))
    heartbeat.start(10)
    thread = _ask_in_thread(prompter, pki, answers)
    with qtbot.waitSignal(prompter.asked, timeout=5000) as shown:
        thread.start()
    dialog = shown.args[0]
    assert isinstance(dialog, TofuDialog)
    assert dialog.isVisible()
    assert pki.sha256_thumbprint in dialog.findChild(QLabel, "tofuThumbprint").text()
    chain_text = dialog.findChild(QPlainTextEdit, "tofuChain").toPlainText()
    assert "CN=localhost" in chain_text and "issuer 2" in chain_text
    # The callback thread is blocked waiting; the UI thread is not.
    seen = len(ticks)
    qtbot.waitUntil(lambda: len(ticks) >= seen + 5, timeout=2000)
    assert thread.is_alive() and answers == []
    (dialog.trust_button if button == "trust" else dialog.refuse_button).click()
    qtbot.waitUntil(lambda: answers == [expected], timeout=5000)
    thread.join(timeout=5)
    heartbeat.stop()


def test_no_answer_in_time_refuses_and_closes_the_dialog(
    qtbot, qasync_loop, pki: GeneratedPki
) -> None:
    prompter = TofuPrompter(timeout_s=0.5)
    answers: list[bool] = []
    thread = _ask_in_thread(prompter, pki, answers)
    with qtbot.waitSignal(prompter.asked, timeout=5000) as shown:
        thread.start()
    assert prompter.open_dialogs() == [shown.args[0]]
    qtbot.waitUntil(lambda: answers == [False], timeout=5000)
    thread.join(timeout=5)
    # The dialog notices on its next countdown tick and closes (and deletes) itself.
    qtbot.waitUntil(lambda: prompter.open_dialogs() == [], timeout=3000)


def test_asking_on_the_ui_thread_refuses_instead_of_deadlocking(qapp, pki: GeneratedPki) -> None:
    prompter = TofuPrompter(timeout_s=30)
    assert prompter.ask("127.0.0.1", pki.sha256_thumbprint, ()) is False


def test_client_policy_asks_through_the_prompter(
    qtbot, qasync_loop, pki: GeneratedPki, tmp_path
) -> None:
    """The real client policy (TOFU, unknown endpoint) asks the prompter from its
    worker thread; trusting in the dialog accepts and records the host."""
    from app.security.client_policy import ClientPolicy, decide
    from app.xr.validation_result import ValidationResult

    prompter = TofuPrompter(timeout_s=20)
    chain = tuple(c.public_bytes(Encoding.DER) for c in pki.chain)
    policy = ClientPolicy(known_hosts=tmp_path / "known_hosts")
    system = ValidationResult(trusted_root=False, reasons={"trustedRoot": "unknown CA"})
    decisions = []
    thread = threading.Thread(
        target=lambda: decisions.append(
            decide(system, chain, "127.0.0.1", 8265, policy, ask=prompter.ask_user)
        )
    )
    with qtbot.waitSignal(prompter.asked, timeout=5000) as shown:
        thread.start()
    dialog = shown.args[0]
    label = dialog.findChild(QLabel, "tofuThumbprint").text()
    assert pki.sha256_thumbprint in label.replace(":", "").lower() or pki.sha256_thumbprint in label
    assert "unknown CA" in label
    dialog.trust_button.click()
    qtbot.waitUntil(lambda: bool(decisions), timeout=5000)
    thread.join(timeout=5)
    assert decisions[0].result.trusted_root is True
    assert decisions[0].known_hosts is not None

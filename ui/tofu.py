"""Trust on first use: ask the person, from a callback thread, without blocking Qt.

The client's ValidateServerCertificate callback runs on a runtime thread and must
answer synchronously. `TofuPrompter.ask_user` (the AskUser handed to the client policy)
posts the question to the UI thread through a queued signal and waits on a
`concurrent.futures.Future` with a timeout; no answer in time is a refusal. The UI
thread shows a non-modal dialog (`open()`, not `exec()`) and resolves the future
when the person answers, so the window keeps painting and the loop keeps running.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.errors import HoloremoteError
from ui import certificate_views

if TYPE_CHECKING:
    from app.security.client_policy import TofuQuestion


@dataclass
class PendingQuestion:
    """One question on its way to the UI thread, with the future that answers it."""

    endpoint: str
    sha256: str
    chain: tuple[bytes, ...] = field(repr=False)
    sha1: str = ""
    why_untrusted: tuple[str, ...] = ()
    answer: concurrent.futures.Future[bool] = field(default_factory=concurrent.futures.Future)


class TofuDialog(QDialog):
    """Shows the host, the SHA-256 thumbprint and the chain; Trust or Refuse."""

    def __init__(self, question: PendingQuestion, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tofuDialog")
        self.setWindowTitle("Unknown server certificate")
        self.question = question
        intro = QLabel(
            f"<b>{question.endpoint}</b> presented a certificate this computer has not seen "
            "before. Trust it only if the thumbprint matches the one the server's owner "
            "gave you out of band (for example as a QR code)."
        )
        intro.setObjectName("tofuIntro")
        intro.setWordWrap(True)
        text = f"SHA-256: <code>{question.sha256}</code>"
        if question.sha1:
            text += f"<br>SHA-1 (Windows): <code>{question.sha1}</code>"
        if question.why_untrusted:
            text += "<br>System validation: " + "; ".join(question.why_untrusted)
        thumb = QLabel(text)
        thumb.setObjectName("tofuThumbprint")
        thumb.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        thumb.setWordWrap(True)
        chain = QPlainTextEdit()
        chain.setReadOnly(True)
        chain.setObjectName("tofuChain")
        try:
            infos = certificate_views.describe_chain(question.chain)
            chain.setPlainText(
                "\n".join(f"{i.title}\n    {i.subject}" for i in infos)
                or "(the chain is in the inspector once the callback is recorded)"
            )
        except HoloremoteError as exc:
            chain.setPlainText(exc.message)
        self.countdown = QLabel()
        buttons = QDialogButtonBox()
        self.trust_button = buttons.addButton(
            "Trust and remember", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.refuse_button = buttons.addButton("Refuse", QDialogButtonBox.ButtonRole.RejectRole)
        self.trust_button.setObjectName("tofuTrust")
        self.refuse_button.setObjectName("tofuRefuse")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(thumb)
        layout.addWidget(chain)
        layout.addWidget(self.countdown)
        layout.addWidget(buttons)
        self.refuse_button.setDefault(True)
        self.finished.connect(self._answer)

    @Slot(int)
    def _answer(self, result: int) -> None:
        if not self.question.answer.done():
            self.question.answer.set_result(result == QDialog.DialogCode.Accepted)


class TofuPrompter(QObject):
    """Lives on the UI thread; `ask` may be called from any other thread."""

    _posted = Signal(object)
    asked = Signal(object)  # TofuDialog, once shown (tests and the window use it)

    def __init__(self, parent: QWidget | None = None, *, timeout_s: float | None = None) -> None:
        super().__init__(parent)
        self._parent_widget = parent
        self._timeout_s = timeout_s
        self._posted.connect(self._show, Qt.ConnectionType.QueuedConnection)
        self._open: set[TofuDialog] = set()
        self._lock = threading.Lock()

    @property
    def timeout_s(self) -> float:
        """How long the person has to answer before the connection attempt is refused:
        by default the client policy's own limit, which is shorter than the built-in
        runtime's handshake timeout (60 s) on both ends, so an answer in time is never
        cut off. (Read when first asked, not with the window: the client policy brings
        the known-hosts file and thumbprints; docs/benchmarks.md, window start.)"""
        if self._timeout_s is None:
            from app.security.client_policy import DEFAULT_ASK_TIMEOUT_SECONDS

            self._timeout_s = DEFAULT_ASK_TIMEOUT_SECONDS
        return self._timeout_s

    def ask_user(self, question: TofuQuestion) -> bool:
        """The client policy's `AskUser` (`app.security.client_policy`): called on a
        worker thread with a TofuQuestion (endpoint, thumbprints, the system result
        and the chain the server presented)."""
        system = question.system_result
        why = tuple(
            f"{name}: {system.reasons.get(name, 'failed')}" for name in system.failed_fields()
        )
        return self.ask(
            question.endpoint,
            question.sha256,
            question.chain,
            sha1=question.sha1,
            why_untrusted=why,
        )

    def ask(
        self,
        endpoint: str,
        sha256: str,
        chain: Sequence[bytes],
        *,
        sha1: str = "",
        why_untrusted: tuple[str, ...] = (),
    ) -> bool:
        """Called off the UI thread: True to trust. Blocks this (worker) thread only."""
        if QThread.currentThread() is self.thread():
            # Waiting here would freeze the very thread that must show the dialog.
            return False
        question = PendingQuestion(endpoint, sha256, tuple(chain), sha1, why_untrusted)
        self._posted.emit(question)
        try:
            return question.answer.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError:
            question.answer.cancel()
            return False

    @Slot(object)
    def _show(self, question: PendingQuestion) -> None:
        if question.answer.done():
            return
        dialog = TofuDialog(question, self._parent_widget)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._open.add(dialog)
        dialog.finished.connect(lambda _r, d=dialog: self._open.discard(d))
        remaining = [int(self.timeout_s)]

        def tick() -> None:
            if question.answer.done():
                # Timed out (or answered) on the callback side: close the dialog.
                timer.stop()
                dialog.reject()
                return
            remaining[0] -= 1
            dialog.countdown.setText(f"Refusing automatically in {max(remaining[0], 0)} s.")

        timer = QTimer(dialog)
        timer.setInterval(1000)
        timer.timeout.connect(tick)
        dialog.countdown.setText(f"Refusing automatically in {remaining[0]} s.")
        timer.start()
        dialog.open()
        self.asked.emit(dialog)

    def open_dialogs(self) -> list[TofuDialog]:
        return list(self._open)

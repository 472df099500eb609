"""The main window and the loopback demo window.

Start-up: the window is shown with the tab the person sees (the callback timeline);
the other tabs (waterfall, certificate chain, session) are built, and their modules
imported, right after its first paint, or earlier when something asks for them
(`MainWindow.inspector` and friends) or an event arrives for them. Dialogs import
their modules when opened (docs/benchmarks.md, window start).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from PySide6.QtCore import (
    QByteArray,
    QDataStream,
    QEvent,
    QIODevice,
    QObject,
    QRect,
    QSettings,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

import app
from app import defaults
from app.xr.records import CallbackRecord
from ui import certificate_views, credentials, field_values, profiles, session_opening
from ui.accessible import name_controls
from ui.endpoint import EndpointWidget
from ui.error_words import window_error_text
from ui.form_widgets import STORE_FILTER
from ui.jobs import Jobs, run_blocking
from ui.secrets import NotRememberingStore, SecretStore, open_secret_store
from ui.settings import REMEMBER_SECRETS_KEY, forget_secrets, load_secrets, save_secrets
from ui.timeline_view import TimelineWidget
from ui.tofu import TofuPrompter

if TYPE_CHECKING:
    from tempfile import TemporaryDirectory

    from PySide6.QtWidgets import QFileDialog, QInputDialog

    from ui.dialogs import VerifyChainDialog
    from ui.help import HelpDialog
    from ui.inspector import ChainInspector
    from ui.known_hosts_dialog import KnownHostsDialog
    from ui.session_tab import SessionTab
    from ui.waterfall import WaterfallWidget

WINDOW_GEOMETRY_KEY = "window/geometry"
# The size the window opens at when nothing (usable) was saved, and the smallest
# restored size kept: below it the panels are cramped. Both are bounded by the
# screen's available size (the smallest by 90 % of it).
DEFAULT_WINDOW_SIZE = QSize(1280, 820)
MIN_RESTORED_SIZE = QSize(1100, 700)


def saved_frame_geometry(blob: QByteArray) -> QRect | None:
    """The frame geometry inside a `saveGeometry()` value (format 3, Qt 5.x and 6),
    or None when it is not one."""
    stream = QDataStream(blob, QIODevice.OpenModeFlag.ReadOnly)
    magic, major, _minor = stream.readUInt32(), stream.readUInt16(), stream.readUInt16()
    if magic != 0x1D9D0CB or major != 3:
        return None
    frame = QRect()
    stream >> frame
    return frame if stream.status() == QDataStream.Status.Ok and frame.isValid() else None


class RecordsToInspector:
    """Shows each ValidateServerCertificate chain in an inspector (described off the
    UI thread)."""

    def __init__(self, jobs: Jobs, inspector: ChainInspector) -> None:
        self.jobs = jobs
        self.inspector = inspector

    def records(self, records: tuple[CallbackRecord, ...]) -> None:
        """A burst of records: the newest chain a ValidateServerCertificate received."""
        for record in reversed(records):
            if record.callback == "ValidateServerCertificate" and record.chain:
                self.jobs.spawn("describe chain", self._show(record))
                return

    def record(self, record: CallbackRecord) -> None:
        """One record (a timeline row the person selected)."""
        self.records((record,))

    async def _show(self, record: CallbackRecord) -> None:
        infos = await run_blocking(certificate_views.describe_chain, record.chain)
        host = record.inputs.get("hostName") or "the server"
        verdict = record.outputs.get("validationResultOut")
        if not isinstance(verdict, dict):
            verdict = record.inputs.get("systemValidationResult")
        title = f"Chain presented by {host} ({len(infos)} certificate(s))"
        if record.error:
            title += f"; the callback refused: {record.error}"
        self.inspector.show_chain(
            infos,
            verdict if isinstance(verdict, dict) else None,
            title,
            revocation_forced=record.inputs.get("forceRevocationCheck") is True,
        )


HIDDEN_TAB_LABELS = ("Handshake waterfall", "Certificate chain", "Session")


class _HiddenTabs(NamedTuple):
    """The tabs not in view at start-up, built after the first paint."""

    waterfall: WaterfallWidget
    inspector: ChainInspector
    session_tab: SessionTab
    chains: RecordsToInspector


class AfterFirstPaint(QObject):
    """Calls back once, after the watched widget's first paint has finished."""

    def __init__(self, widget: QWidget, callback: Callable[[], object]) -> None:
        super().__init__(widget)
        self._widget = widget
        self._callback = callback
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._widget and event.type() == QEvent.Type.Paint:
            self._widget.removeEventFilter(self)
            QTimer.singleShot(0, self._callback)
        return False


class MainWindow(QMainWindow):
    """One endpoint, its live timeline and the chain inspector."""

    secretsLoaded = Signal()

    def __init__(
        self,
        settings: QSettings | None = None,
        secret_store: SecretStore | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("holoremote: secure Holographic Remoting")
        self.settings_store = settings or QSettings(
            str(defaults.window_settings_file()), QSettings.Format.IniFormat
        )
        self._secret_store = secret_store
        self.jobs = Jobs(self)
        self.tofu = TofuPrompter(self)
        self.endpoint = EndpointWidget(tofu=self.tofu)
        self.timeline = TimelineWidget()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.addTab(self.timeline, "Callback timeline")
        # Placeholders until _hidden_tabs() puts the real pages in their place.
        for label in HIDDEN_TAB_LABELS:
            self.tabs.addTab(QWidget(), label)
        self._hidden: _HiddenTabs | None = None
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.endpoint)
        scroll.setMinimumWidth(440)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        self.setCentralWidget(splitter)

        self.status_state = QLabel()
        self.status_state.setObjectName("statusState")
        self.status_detail = QLabel()
        self.status_detail.setObjectName("statusDetail")
        self.status_detail.setWordWrap(True)
        self.status_progress = QLabel()
        self.status_progress.setObjectName("statusProgress")
        self.status_progress.hide()
        self.statusBar().addWidget(self.status_state)
        self.statusBar().addWidget(self.status_progress)
        self.statusBar().addWidget(self.status_detail, 1)
        self.endpoint.recordsArrived.connect(self.timeline.add_records)
        self.endpoint.eventArrived.connect(self.timeline.add_event)
        self.endpoint.eventArrived.connect(self._event_to_hidden_tabs)
        self.endpoint.recordsArrived.connect(self._records_to_hidden_tabs)
        # A session starting builds the session tab before it could miss "connected".
        self.endpoint.controller.stateChanged.connect(lambda _state: self._hidden_tabs())
        self.endpoint.statusChanged.connect(self._update_status)
        self.endpoint.progress.changed.connect(self._progress)
        self.timeline.chainSelected.connect(self._chain_selected)
        self.jobs.failed.connect(self._job_failed)
        self.demo: LoopbackDemo | None = None
        self._build_actions()
        self._update_status(self.endpoint.state_label.text(), "")
        name_controls(self)
        self._restore()
        AfterFirstPaint(self, self._hidden_tabs)

    # --- the tabs built after the first paint ----------------------------------------

    def _hidden_tabs(self) -> _HiddenTabs:
        if self._hidden is None:
            from ui.inspector import ChainInspector
            from ui.session_tab import SessionTab
            from ui.waterfall import WaterfallWidget

            waterfall = WaterfallWidget()
            waterfall.setObjectName("waterfall")
            inspector = ChainInspector()
            session_tab = SessionTab(
                self.endpoint.controller, lambda: self.endpoint.settings().role
            )
            pages = (waterfall, inspector, _scrolled(session_tab))
            current = self.tabs.currentIndex()
            self.tabs.setUpdatesEnabled(False)
            for index, (page, label) in enumerate(
                zip(pages, HIDDEN_TAB_LABELS, strict=True), start=1
            ):
                placeholder = self.tabs.widget(index)
                self.tabs.removeTab(index)
                self.tabs.insertTab(index, page, label)
                if placeholder is not None:
                    placeholder.deleteLater()
            self.tabs.setCurrentIndex(current)
            self.tabs.setUpdatesEnabled(True)
            for page in pages:
                name_controls(page)
            self._hidden = _HiddenTabs(
                waterfall, inspector, session_tab, RecordsToInspector(self.jobs, inspector)
            )
        return self._hidden

    @property
    def hidden_tabs_built(self) -> bool:
        return self._hidden is not None

    @property
    def waterfall(self) -> WaterfallWidget:
        return self._hidden_tabs().waterfall

    @property
    def inspector(self) -> ChainInspector:
        return self._hidden_tabs().inspector

    @property
    def session_tab(self) -> SessionTab:
        return self._hidden_tabs().session_tab

    @property
    def chains(self) -> RecordsToInspector:
        return self._hidden_tabs().chains

    # Slots, not lambdas or bound methods of the tabs: connecting those would build them.
    def _event_to_hidden_tabs(self, event: object) -> None:
        self._hidden_tabs().waterfall.add_event(event)

    def _chain_selected(self, record: CallbackRecord) -> None:
        self.chains.record(record)

    def _records_to_hidden_tabs(self, records: tuple[CallbackRecord, ...]) -> None:
        hidden = self._hidden_tabs()
        hidden.waterfall.add_records(records)
        hidden.chains.records(records)

    # --- menus and toolbar ---------------------------------------------------------------

    def _build_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        connection = menu.addMenu("&Connection")
        self.start_action = QAction("Connect / &Listen", self)
        self.start_action.setObjectName("actionStart")
        self.start_action.setShortcut(QKeySequence("Ctrl+Return"))
        self.start_action.triggered.connect(self.endpoint.start)
        self.cancel_action = QAction("&Cancel connecting", self)
        self.cancel_action.setObjectName("actionCancel")
        self.cancel_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_action.triggered.connect(self.endpoint.cancel)
        self.stop_action = QAction("&Disconnect", self)
        self.stop_action.setShortcut(QKeySequence("Ctrl+D"))
        self.stop_action.setObjectName("actionDisconnect")
        self.stop_action.triggered.connect(self.endpoint.disconnect)
        connection.addActions([self.start_action, self.cancel_action, self.stop_action])
        connection.addSeparator()
        self.save_profile_action = QAction("&Save as profile\u2026", self)
        self.save_profile_action.setObjectName("actionSaveProfile")
        self.save_profile_action.triggered.connect(self.ask_profile_name)
        connection.addAction(self.save_profile_action)
        self.profiles_menu = connection.addMenu("&Profiles")
        self.profiles_menu.setObjectName("profilesMenu")
        self.profiles_menu.aboutToShow.connect(self._fill_profiles_menu)
        self.delete_profile_menu = connection.addMenu("&Delete profile")
        self.delete_profile_menu.setObjectName("deleteProfileMenu")
        self.delete_profile_menu.aboutToShow.connect(self._fill_profiles_menu)

        self.demo_action = QAction("&Loopback demo", self)
        self.demo_action.setObjectName("actionLoopbackDemo")
        self.demo_action.setToolTip(
            "Both ends in one window, secure, with a fresh test PKI and a random token"
        )
        self.demo_action.triggered.connect(self.open_loopback_demo)
        demo_menu = menu.addMenu("&Demo")
        demo_menu.addAction(self.demo_action)

        tools = menu.addMenu("&Tools")
        self.create_pki_action = QAction("&Create test certificates\u2026", self)
        self.create_pki_action.triggered.connect(self.open_create_pki)
        self.inspect_action = QAction("&Inspect certificate file\u2026", self)
        self.inspect_action.setObjectName("actionInspect")
        self.inspect_action.setShortcut(QKeySequence.StandardKey.Open)
        self.inspect_action.triggered.connect(self.choose_file_to_inspect)
        self.verify_action = QAction("&Verify a chain for a host\u2026", self)
        self.verify_action.triggered.connect(self.open_verify)
        self.export_action = QAction("&Export timeline\u2026", self)
        self.export_action.setObjectName("actionExportTimeline")
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.triggered.connect(self.timeline.choose_export_file)
        tools.addActions(
            [self.create_pki_action, self.inspect_action, self.verify_action, self.export_action]
        )

        settings_menu = menu.addMenu("&Settings")
        self.remember_action = QAction("Remember secrets in the OS &keyring", self)
        self.remember_action.setObjectName("actionRememberSecrets")
        self.remember_action.setCheckable(True)
        self.remember_action.setToolTip(
            "Tokens and passphrases are never written to the settings file; with this on "
            "they are kept in the operating system's keyring"
        )
        self.remember_action.toggled.connect(self._remember_toggled)
        settings_menu.addAction(self.remember_action)
        self.known_hosts_action = QAction("Known &hosts\u2026", self)
        self.known_hosts_action.setObjectName("actionKnownHosts")
        self.known_hosts_action.triggered.connect(self.open_known_hosts)
        settings_menu.addAction(self.known_hosts_action)

        help_menu = menu.addMenu("&Help")
        self.help_action = QAction("&Documentation", self)
        self.help_action.setObjectName("actionHelp")
        self.help_action.setShortcut(QKeySequence.StandardKey.HelpContents)
        self.help_action.triggered.connect(self.open_help)
        help_menu.addAction(self.help_action)
        about = QAction("&About", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

        toolbar = QToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.addAction(self.start_action)
        toolbar.addAction(self.stop_action)
        toolbar.addSeparator()
        toolbar.addAction(self.demo_action)
        toolbar.addAction(self.inspect_action)
        self.addToolBar(toolbar)

    def _about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.about(
            self,
            "About holoremote",
            f"holoremote {app.__version__}\nSecure Holographic Remoting connections "
            "through OpenXR (XR_MSFT_holographic_remoting).",
        )

    # --- status ----------------------------------------------------------------------------

    # --- profiles ------------------------------------------------------------------------

    def ask_profile_name(self) -> QInputDialog:
        from PySide6.QtWidgets import QInputDialog

        ask = QInputDialog(self)
        ask.setObjectName("profileNameDialog")
        ask.setWindowTitle("Save as profile")
        ask.setLabelText(
            "Profile name (the fields are kept; tokens and passphrases only in the OS "
            "keyring, and only with Settings \u2192 Remember secrets on):"
        )
        ask.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        ask.textValueSelected.connect(self.save_profile)
        ask.open()
        name_controls(ask)
        return ask

    def save_profile(self, name: str) -> None:
        binder = self.endpoint.binder
        try:
            name = profiles.save_profile(self.settings_store, name, binder)
        except ValueError as exc:
            self.status_detail.setText(f"Profile not saved: {exc}")
            return
        self.status_detail.setText(f"Profile \u201c{name}\u201d saved.")
        if self.remember_action.isChecked():
            values = profiles.secret_values(name, binder)
            names = profiles.secret_names(name, binder)
            self.jobs.spawn("save profile secrets", self._save_secrets(values, names))

    def load_profile(self, name: str) -> None:
        if self.endpoint.controller.active:
            self.status_detail.setText("Disconnect before loading a profile.")
            return
        if not profiles.load_profile(self.settings_store, name, self.endpoint.binder):
            self.status_detail.setText(f"There is no profile \u201c{name}\u201d.")
            return
        self.status_detail.setText(f"Profile \u201c{name}\u201d loaded.")
        if self.remember_action.isChecked():
            self.jobs.spawn("load profile secrets", self._load_profile_secrets(name))

    async def _load_profile_secrets(self, name: str) -> None:
        store = await run_blocking(lambda: self.secret_store)
        names = profiles.secret_names(name, self.endpoint.binder)
        values = await run_blocking(load_secrets, store, names)
        profiles.apply_secrets(name, self.endpoint.binder, values)
        self.secretsLoaded.emit()

    def delete_profile(self, name: str) -> None:
        profiles.delete_profile(self.settings_store, name)
        names = profiles.secret_names(name, self.endpoint.binder)
        self.jobs.spawn("forget profile secrets", self._forget_names(names))
        self.status_detail.setText(f"Profile \u201c{name}\u201d deleted.")

    async def _forget_names(self, names: list[str]) -> None:
        store = await run_blocking(lambda: self.secret_store)
        await run_blocking(forget_secrets, store, names)

    def _fill_profiles_menu(self) -> None:
        names = profiles.profile_names(self.settings_store)
        for menu, handler in (
            (self.profiles_menu, self.load_profile),
            (self.delete_profile_menu, self.delete_profile),
        ):
            menu.clear()
            for name in names:
                action = menu.addAction(name)
                action.triggered.connect(lambda _=False, n=name, h=handler: h(n))
            if not names:
                menu.addAction("(no profile saved yet)").setEnabled(False)

    def open_known_hosts(self) -> KnownHostsDialog:
        from ui.known_hosts_dialog import KnownHostsDialog

        path = self.endpoint.client_panel.known_hosts.text().strip()
        dialog = KnownHostsDialog(path or session_opening.default_known_hosts(), self)
        name_controls(dialog)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_help(self) -> HelpDialog:
        from ui.help import HelpDialog

        dialog = HelpDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _progress(self, text: str) -> None:
        self.status_progress.setText(text)
        self.status_progress.setVisible(bool(text))

    def _update_status(self, state: str, detail: str) -> None:
        self.status_state.setText(state)
        self.status_detail.setText(detail)
        active = self.endpoint.controller.active
        self.start_action.setEnabled(not active)
        self.stop_action.setEnabled(active)

    def _job_failed(self, what: str, exc: object) -> None:
        message, fix = window_error_text(exc)  # type: ignore[arg-type]
        self.status_detail.setText(f"{what} failed: {message}" + (f" Fix: {fix}" if fix else ""))

    # --- tools -------------------------------------------------------------------------------

    def choose_file_to_inspect(self) -> QFileDialog:
        """Tools > Inspect certificate file: a file dialog, then (for a .pfx/.p12) the
        passphrase. Both are opened, not executed: the loop keeps running."""
        from PySide6.QtWidgets import QFileDialog

        dialog = QFileDialog(self, "Inspect certificate file", "", STORE_FILTER)
        dialog.setObjectName("inspectFileDialog")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(self._file_to_inspect_chosen)
        dialog.open()
        return dialog

    def _file_to_inspect_chosen(self, path: str) -> None:
        if not path.lower().endswith((".pfx", ".p12")):
            self.inspect_file(path)
            return
        from PySide6.QtWidgets import QInputDialog

        ask = QInputDialog(self)
        ask.setObjectName("inspectPassphraseDialog")
        ask.setWindowTitle("Passphrase")
        ask.setLabelText(f"Passphrase of {Path(path).name} (empty if none):")
        ask.setTextEchoMode(QLineEdit.EchoMode.Password)
        ask.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        ask.textValueSelected.connect(lambda passphrase: self.inspect_file(path, passphrase))
        ask.open()

    def inspect_file(self, path: str, passphrase: str = "") -> None:
        self.tabs.setCurrentWidget(self.inspector)
        self.jobs.spawn("inspect", self._inspect(path, passphrase))

    def _show_file_problem(self, title: str, path: str, exc: Exception) -> None:
        message, fix = window_error_text(exc)
        if path not in message:
            message = f"{path}: {message}"
        self.inspector.show_error(title, message + (f"\nFix: {fix}" if fix else ""))

    async def _inspect(self, path: str, passphrase: str) -> None:
        try:
            summary = await run_blocking(certificate_views.inspect_file, path, passphrase)
        except Exception as exc:  # noqa: BLE001 - shown in the inspector
            self._show_file_problem(f"Cannot inspect {path}", path, exc)
            return
        title = f"{path}: {summary.format}, {len(summary.certificates)} certificate(s)"
        if summary.warnings:
            title += "\n" + "\n".join(f"\u26a0 {w}" for w in summary.warnings)
        self.inspector.show_chain(summary.certificates, None, title)

    def open_create_pki(self) -> None:
        from ui.dialogs import CreateTestPkiDialog

        dialog = CreateTestPkiDialog(self)
        dialog.created.connect(self.use_test_pki)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def use_test_pki(self, files: credentials.TestPkiFiles) -> None:
        server = self.endpoint.server_panel
        server.store_path.setText(files.paths["pfx"])
        server.passphrase.setText(files.passphrase)
        server.subject_name.setCurrentText(files.friendly_name)
        self.endpoint.client_panel.ca_file.setText(files.paths["ca"])
        server.load_store()

    def open_verify(self) -> VerifyChainDialog:
        from ui.dialogs import VerifyChainDialog

        dialog = VerifyChainDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.verify_chain(*dialog.values()))
        dialog.open()
        return dialog

    def verify_chain(self, chain_file: str, host: str, ca_file: str) -> None:
        self.tabs.setCurrentWidget(self.inspector)
        self.jobs.spawn("verify", self._verify(chain_file, host, ca_file))

    async def _verify(self, chain_file: str, host: str, ca_file: str) -> None:
        try:
            infos, verdict = await run_blocking(
                certificate_views.validate_chain_file, chain_file, host, ca_file
            )
        except Exception as exc:  # noqa: BLE001 - shown in the inspector
            self._show_file_problem(f"Cannot verify {chain_file}", chain_file, exc)
            return
        accepted = not verdict.failed_fields()
        self.inspector.show_chain(
            infos,
            verdict,
            f"{chain_file} for host {host}: "
            + ("a client would accept it" if accepted else "a client would refuse it"),
        )

    def open_loopback_demo(self) -> LoopbackDemo:
        if self.demo is None:
            self.demo = LoopbackDemo()
        self.demo.show()
        self.demo.raise_()
        self.demo.run()
        return self.demo

    # --- settings and secrets -------------------------------------------------------------

    @property
    def secret_store(self) -> SecretStore:
        if self._secret_store is None:
            self._secret_store = open_secret_store()
        return self._secret_store

    def _restore(self) -> None:
        s = self.settings_store
        self.restore_window_geometry(s.value(WINDOW_GEOMETRY_KEY))
        self.endpoint.binder.restore(s)
        remember = str(s.value(REMEMBER_SECRETS_KEY, "false")).lower() == "true"
        self.remember_action.blockSignals(True)
        self.remember_action.setChecked(remember)
        self.remember_action.blockSignals(False)
        if remember:
            self.jobs.spawn("load secrets", self._load_secrets())

    def restore_window_geometry(self, saved: object) -> None:
        """The saved geometry, unless it is unreadable, smaller than the sensible
        minimum (saved on a small screen, e.g. a small Xvfb) or on no screen now:
        then the default size, centred on the primary screen."""
        if isinstance(saved, QByteArray | bytes):
            blob = QByteArray(saved)
            frame = saved_frame_geometry(blob)
            # restoreGeometry moves a window from a screen that is gone onto another
            # one, squeezed against its edge: start afresh instead.
            on_a_screen = frame is None or QGuiApplication.screenAt(frame.center()) is not None
            if on_a_screen and self.restoreGeometry(blob) and self._restored_geometry_is_usable():
                return
        self.use_default_geometry()

    def _restored_geometry_is_usable(self) -> bool:
        frame = self.frameGeometry()  # before show, the geometry itself
        screen = QGuiApplication.screenAt(frame.center())
        if screen is None:
            return False
        if self.windowState() & (Qt.WindowState.WindowMaximized | Qt.WindowState.WindowFullScreen):
            return True
        # Nearly the whole screen is fine too (window frames take a few pixels).
        least = MIN_RESTORED_SIZE.boundedTo(screen.availableGeometry().size() * 0.9)
        return frame.width() >= least.width() and frame.height() >= least.height()

    def use_default_geometry(self) -> None:
        screen = QGuiApplication.primaryScreen()
        self.setWindowState(Qt.WindowState.WindowNoState)
        if screen is None:
            self.resize(DEFAULT_WINDOW_SIZE)
            return
        available = screen.availableGeometry()
        size = DEFAULT_WINDOW_SIZE.boundedTo(available.size())
        self.resize(size)
        frame = QRect(available.topLeft(), size)
        frame.moveCenter(available.center())
        self.move(frame.topLeft())

    async def _load_secrets(self) -> None:
        store = await run_blocking(lambda: self.secret_store)
        values = await run_blocking(load_secrets, store, self.endpoint.binder.secret_names())
        self.endpoint.binder.apply_secrets(values)
        self.secretsLoaded.emit()

    def _remember_toggled(self, on: bool) -> None:
        self.settings_store.setValue(REMEMBER_SECRETS_KEY, on)
        if on:
            self.jobs.spawn("open keyring", self._announce_store())
        else:
            self.jobs.spawn("forget secrets", self._forget())

    async def _announce_store(self) -> None:
        store = await run_blocking(lambda: self.secret_store)
        self.status_detail.setText(
            f"Secrets: {store.description}"
            + ("" if store.is_persistent else ". They will be asked for again next time.")
        )

    async def _forget(self) -> None:
        store = await run_blocking(lambda: self.secret_store)
        await run_blocking(forget_secrets, store, self.endpoint.binder.secret_names())

    def save_settings(self) -> None:
        """Plain fields to QSettings now; secrets to the keyring (in the background) only
        when the user opted in."""
        s = self.settings_store
        s.setValue(WINDOW_GEOMETRY_KEY, self.saveGeometry())
        self.endpoint.binder.save(s)
        s.setValue(REMEMBER_SECRETS_KEY, self.remember_action.isChecked())
        s.sync()
        if self.remember_action.isChecked():
            values = self.endpoint.binder.secret_values()
            names = self.endpoint.binder.secret_names()
            self.jobs.spawn("save secrets", self._save_secrets(values, names))

    async def _save_secrets(self, values: dict[str, str], names: list[str]) -> None:
        store = await run_blocking(lambda: self.secret_store)
        if isinstance(store, NotRememberingStore):
            return
        await run_blocking(save_secrets, store, values, names)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        self.endpoint.end()
        if self.demo is not None:
            self.demo.close()
        super().closeEvent(event)

    async def aclose(self) -> None:
        """Wait for sessions and jobs to end (after the window closed)."""
        if self._hidden is not None:
            await self._hidden.session_tab.aclose()
        await self.endpoint.controller.aclose()
        if self.demo is not None:
            await self.demo.aclose()
        await self.jobs.wait_all()


def _scrolled(widget: QWidget) -> QScrollArea:
    """A tab's page that scrolls, so that its minimum size never widens the window."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(widget)
    return scroll


class LoopbackDemo(QWidget):
    """Both ends side by side in one window, secure, fresh test PKI, random token."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        from ui.inspector import ChainInspector
        from ui.session_tab import SessionTab

        self.setObjectName("loopbackDemo")
        self.setWindowTitle("holoremote: loopback demo")
        self.jobs = Jobs(self)
        self.tofu = TofuPrompter(self)
        self.server = EndpointWidget("server", tofu=self.tofu)
        self.client = EndpointWidget("client", tofu=self.tofu)
        self.server.set_mode("listen")
        self.server.set_role("player")
        self.client.set_mode("connect")
        self.client.set_role("remote")
        self.timeline = TimelineWidget()
        self.inspector = ChainInspector()
        self.chains = RecordsToInspector(self.jobs, self.inspector)
        self.status = QLabel("Press Run to create a test PKI and connect the two ends.")
        self.status.setObjectName("demoStatus")
        self.status.setWordWrap(True)
        # Run / Stop and both ends' state stay in view (each end's own buttons may be
        # scrolled away in its pane).
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("demoRun")
        self.run_button.setAccessibleName("Run the loopback demo")
        self.run_button.clicked.connect(self.run)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("demoStop")
        self.stop_button.setAccessibleName("Stop both ends")
        self.stop_button.clicked.connect(self.stop)
        self.server_state = QLabel()
        self.server_state.setObjectName("demoServerState")
        self.client_state = QLabel()
        self.client_state.setObjectName("demoClientState")
        ends = QSplitter(Qt.Orientation.Horizontal)
        for end in (self.server, self.client):
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(end)
            ends.addWidget(scroll)
        self.client_session = SessionTab(
            self.client.controller, lambda: self.client.settings().role, name="client"
        )
        self.server_session = SessionTab(
            self.server.controller, lambda: self.server.settings().role, name="server"
        )
        tabs = QTabWidget()
        tabs.setObjectName("demoTabs")
        tabs.addTab(self.timeline, "Callback timeline (both ends)")
        tabs.addTab(self.inspector, "Certificate chain")
        self.client_session_page = _scrolled(self.client_session)
        self.server_session_page = _scrolled(self.server_session)
        tabs.addTab(self.client_session_page, "Remote session (sends the test stream)")
        tabs.addTab(self.server_session_page, "Player session (shows the test stream)")
        self.tabs = tabs
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(ends)
        body.addWidget(tabs)
        header = QHBoxLayout()
        header.addWidget(self.run_button)
        header.addWidget(self.stop_button)
        header.addWidget(self.server_state)
        header.addWidget(self.client_state)
        header.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.status)
        layout.addWidget(body, 1)
        for end in (self.server, self.client):
            end.recordsArrived.connect(self.timeline.add_records)
            end.eventArrived.connect(self.timeline.add_event)
            end.recordsArrived.connect(self.chains.records)
        self.server.controller.listening.connect(self._server_listening)
        self.client.controller.connected.connect(self._connected)
        for end in (self.server, self.client):
            end.statusChanged.connect(self._ends_changed)
        self._ends_changed()
        self.jobs.failed.connect(
            lambda what, exc: self.status.setText(
                f"{what} failed: " + " ".join(window_error_text(exc))
            )
        )
        self._pki_dir: TemporaryDirectory[str] | None = None
        # Each Run, and each Stop, starts a new generation: what a Run prepares off the
        # UI thread (the PKI) starts the ends only if nothing came after that Run.
        self._generation = 0
        self._stopped = False
        name_controls(self)
        self.resize(1400, 900)

    def run(self) -> None:
        if self.server.controller.active or self.client.controller.active:
            return
        self._generation += 1
        self._stopped = False
        self.status.setText("Creating a fresh test PKI and a random token\u2026")
        self.jobs.spawn("loopback demo", self._prepare_and_listen(self._generation))

    async def _prepare_and_listen(self, generation: int) -> None:
        if self._pki_dir is None:
            from tempfile import TemporaryDirectory

            self._pki_dir = TemporaryDirectory(prefix="holoremote-demo-")
        from app.endpoint.demo import DEMO_NAME, write_demo_credentials

        made = await run_blocking(write_demo_credentials, self._pki_dir.name)
        if generation != self._generation:  # stopped or closed while the PKI was made
            return
        s = self.server.server_panel
        s.store_path.setText(made.store_path)
        s.passphrase.setText(made.passphrase)
        s.subject_name.setCurrentText(made.friendly_name)
        s.realm.setText(DEMO_NAME)
        s.shared_secrets.setText(made.token)
        # The server pane shows the store the demo serves, as a loaded store would.
        s.load_store()
        c = self.client.client_panel
        c.token.setText(made.token)
        c.ca_file.setText(made.ca_path)
        c.system_validation.setChecked(True)
        for end in (self.server, self.client):
            end.secure.setChecked(True)
            end.host.setText("127.0.0.1")
            end.listen_interface.setText(field_values.LOOPBACK_INTERFACE)
            end.port.setValue(0)
            end.transport_port.setValue(0)
        self.status.setText("Server: listening on a free port\u2026")
        self.server.start()

    def _server_listening(self, port: int) -> None:
        if self._stopped or self.client.controller.active:
            return
        self.client.port.setValue(port)
        self.status.setText(f"Server listening on port {port}; client connecting\u2026")
        self.client.start()

    def _ends_changed(self, *_args: object) -> None:
        """Both ends' state in the header; Run while neither runs, Stop while one does."""
        self.server_state.setText(f"Server: {self.server.state_label.text()}")
        self.client_state.setText(f"Client: {self.client.state_label.text()}")
        running = self.server.controller.active or self.client.controller.active
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        if not self.client.controller.active and self.status.text().startswith("Connected"):
            self.status.setText("The client disconnected. Press Run to connect again.")

    def _connected(self) -> None:
        self.status.setText(
            "Connected securely: all four callbacks are in the timeline; the chain the "
            "server presented is in the inspector."
        )

    def stop(self) -> None:
        self._generation += 1
        self._stopped = True
        self.client.end()
        self.server.end()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop()
        super().closeEvent(event)

    async def aclose(self) -> None:
        await self.client_session.aclose()
        await self.server_session.aclose()
        await self.client.controller.aclose()
        await self.server.controller.aclose()
        await self.jobs.wait_all()
        if self._pki_dir is not None:
            self._pki_dir.cleanup()
            self._pki_dir = None

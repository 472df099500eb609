"""One end of a connection: connection fields, buttons and this end's status, around
the server panel (`ui.server_panel`) and the client panel (`ui.client_panel`).

The main window shows one; the loopback demo shows two side by side. Fields become
a `field_values.EndpointSettings` value; everything that loads, generates or connects
runs through `session_opening`, `certificate_views` and `credentials` off the UI thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app import defaults
from app.xr.values import DisconnectReason
from ui import certificate_views, field_values, session_opening
from ui.client_panel import ClientPanel
from ui.controller import STATE_TEXT, SessionController
from ui.error_words import window_error_text
from ui.form_widgets import path_row, set_severity
from ui.jobs import Jobs, run_blocking
from ui.progress import ConnectProgress
from ui.server_panel import ServerPanel
from ui.settings import FieldBinder
from ui.share_panel import SharePanel, machine_addresses
from ui.tofu import TofuPrompter


class EndpointWidget(QWidget):
    """Connection fields + server and client panels + buttons + this end's status."""

    recordsArrived = Signal(tuple)  # tuple[CallbackRecord, ...]: one burst, in order
    eventArrived = Signal(object)  # a session event other than callback records
    statusChanged = Signal(str, str)  # state text, detail (reason, explanation, fix)

    def __init__(
        self,
        name: str = "",
        parent: QWidget | None = None,
        *,
        tofu: TofuPrompter | None = None,
    ) -> None:
        super().__init__(parent)
        prefix = f"{name}_" if name else ""
        self.setObjectName(f"{prefix}endpoint" if name else "endpoint")
        self.controller = SessionController(self)
        self.progress = ConnectProgress(self.controller, self)
        self.jobs = Jobs(self)
        self.tofu = tofu or TofuPrompter(self)
        self._runtime_checks = 0  # the newest check's number; older answers are dropped
        self._runtime_problem = False
        self._problem = ""  # the status bar's text of what reason_label shows

        self.role = QComboBox()
        self.role.setObjectName(f"{prefix}role")
        self.role.addItem("Remote (renders, streams to the player)", "remote")
        self.role.addItem("Player (shows what the remote streams)", "player")
        self.mode = QComboBox()
        self.mode.setObjectName(f"{prefix}mode")
        self.mode.addItem("Connect (client)", "connect")
        self.mode.addItem("Listen (server)", "listen")
        self.host = QLineEdit("127.0.0.1")
        self.host.setObjectName(f"{prefix}host")
        self.host_label = QLabel("Host")
        self.host.setAccessibleName("Host")
        # The listener's own field: switching modes never carries a client's host
        # name into it. All interfaces by default, as `holoremote listen`.
        self.listen_interface = QLineEdit(field_values.ALL_INTERFACES)
        self.listen_interface.setObjectName(f"{prefix}listenInterface")
        self.listen_interface.setAccessibleName("Listen on interface")
        self.listen_interface.setToolTip(
            "The address to listen on: 0.0.0.0 for all interfaces, 127.0.0.1 for this machine only"
        )
        self.all_interfaces_button = QPushButton("All interfaces")
        self.all_interfaces_button.setObjectName(f"{prefix}allInterfaces")
        self.all_interfaces_button.clicked.connect(
            lambda: self.listen_interface.setText(field_values.ALL_INTERFACES)
        )
        self.loopback_button = QPushButton("Loopback only")
        self.loopback_button.setObjectName(f"{prefix}loopbackOnly")
        self.loopback_button.clicked.connect(
            lambda: self.listen_interface.setText(field_values.LOOPBACK_INTERFACE)
        )
        self.listen_interface_label = QLabel("Listen on")
        self.listen_once = QCheckBox("Stop after one session")
        self.listen_once.setObjectName(f"{prefix}listenOnce")
        self.listen_once.setToolTip(
            "Without this the listener listens again after each session, as Microsoft's "
            "Holographic Remoting Player does"
        )
        self.port = QSpinBox()
        self.port.setObjectName(f"{prefix}port")
        self.port.setRange(0, 65535)
        self.port.setValue(defaults.DEFAULT_HANDSHAKE_PORT)
        self.port.setSpecialValueText("any free port")
        self.port.setAccessibleName("Handshake port")
        self.transport_port = QSpinBox()
        self.transport_port.setObjectName(f"{prefix}transportPort")
        self.transport_port.setRange(0, 65535)
        self.transport_port.setValue(defaults.DEFAULT_TRANSPORT_PORT)
        self.transport_port.setSpecialValueText("any free port")
        self.transport_port.setAccessibleName("Transport port")
        self.secure = QCheckBox("Secure (TLS, certificate and token)")
        self.secure.setObjectName(f"{prefix}secure")
        self.secure.setChecked(True)
        self.runtime_choice = QComboBox()
        self.runtime_choice.setObjectName(f"{prefix}runtime")
        self.runtime_choice.addItem("Automatic", "auto")
        self.runtime_choice.addItem("Built-in", "builtin")
        self.runtime_choice.addItem("OpenXR", "openxr")
        self.runtime_json = QLineEdit()
        self.runtime_json.setObjectName(f"{prefix}runtimeJson")
        self.runtime_json.setPlaceholderText("RemotingXR.json (optional)")
        self.runtime_label = QLabel()
        self.runtime_label.setObjectName(f"{prefix}runtimeInUse")
        self.runtime_label.setWordWrap(True)

        self.connect_button = QPushButton("Connect")
        self.connect_button.setObjectName(f"{prefix}connectButton")
        self.listen_button = QPushButton("Listen")
        self.listen_button.setObjectName(f"{prefix}listenButton")
        self.disconnect_button = QPushButton("Disconnect")
        self.disconnect_button.setObjectName(f"{prefix}disconnectButton")
        self.state_label = QLabel(STATE_TEXT["idle"])
        self.state_label.setObjectName(f"{prefix}state")
        self.reason_label = QLabel()
        self.reason_label.setObjectName(f"{prefix}reason")
        self.reason_label.setWordWrap(True)
        self.reason_label.setProperty("severity", "error")
        self.reason_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason_label.hide()

        self.server_panel = ServerPanel(prefix)
        self.client_panel = ClientPanel(prefix)
        self.share_panel = SharePanel(prefix)
        self.share_panel.hide()
        self.role.setAccessibleName("Role")
        self.mode.setAccessibleName("Mode")
        self.runtime_choice.setAccessibleName("Runtime")
        self.runtime_json.setAccessibleName("OpenXR runtime manifest")

        connection = QGroupBox("Connection")
        form = QFormLayout(connection)
        form.addRow("Role", self.role)
        form.addRow("Mode", self.mode)
        form.addRow(self.host_label, self.host)
        interface_row = QHBoxLayout()
        interface_row.addWidget(self.listen_interface, 1)
        interface_row.addWidget(self.all_interfaces_button)
        interface_row.addWidget(self.loopback_button)
        self._interface_row = QWidget()
        self._interface_row.setLayout(interface_row)
        interface_row.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.listen_interface_label, self._interface_row)
        self._form = form
        form.addRow("Handshake port", self.port)
        form.addRow("Transport port", self.transport_port)
        form.addRow(self.secure)
        form.addRow(self.listen_once)
        runtime_row = QHBoxLayout()
        runtime_row.addWidget(self.runtime_choice)
        runtime_row.addLayout(path_row(self.runtime_json, "OpenXR runtime manifest", "*.json"), 1)
        form.addRow("Runtime", runtime_row)
        form.addRow("In use", self.runtime_label)
        buttons = QHBoxLayout()
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.listen_button)
        buttons.addWidget(self.disconnect_button)
        buttons.addStretch(1)
        buttons.addWidget(self.state_label)

        layout = QVBoxLayout(self)
        layout.addWidget(connection)
        layout.addWidget(self.server_panel)
        layout.addWidget(self.client_panel)
        layout.addLayout(buttons)
        layout.addWidget(self.reason_label)
        layout.addWidget(self.share_panel)
        layout.addStretch(1)

        self.binder = FieldBinder(name or "endpoint")
        for key, widget in (
            ("role", self.role),
            ("mode", self.mode),
            ("host", self.host),
            ("listenInterface", self.listen_interface),
            ("listenOnce", self.listen_once),
            ("port", self.port),
            ("transportPort", self.transport_port),
            ("secure", self.secure),
            ("runtime", self.runtime_choice),
            ("runtimeJson", self.runtime_json),
        ):
            self.binder.add(key, widget)
        self.server_panel.bind(self.binder)
        self.client_panel.bind(self.binder)

        self.mode.currentIndexChanged.connect(self._mode_changed)
        # A problem found with one file says nothing about another.
        self.server_panel.store_path.textChanged.connect(self.clear_problem)
        self.client_panel.ca_file.textChanged.connect(self.clear_problem)
        self.secure.toggled.connect(self._mode_changed)
        self.runtime_choice.currentIndexChanged.connect(self.check_runtime)
        self.runtime_json.textChanged.connect(self._runtime_changed)
        self.runtime_json.editingFinished.connect(self.check_runtime)
        self.connect_button.clicked.connect(self._connect_clicked)
        self.listen_button.clicked.connect(self.start)
        self.disconnect_button.clicked.connect(self.controller.end)
        c = self.controller
        c.stateChanged.connect(self._state_changed)
        c.listening.connect(self._listening)
        c.disconnected.connect(self._disconnected)
        c.startFailed.connect(self._start_failed)
        c.runtimeInUse.connect(self._runtime_in_use)
        c.records.connect(self.recordsArrived)
        c.sessionEvent.connect(self.eventArrived)
        self._mode_changed()
        self._runtime_changed()
        self._state_changed("idle")

    # --- values ----------------------------------------------------------------------

    @property
    def is_listen(self) -> bool:
        return bool(self.mode.currentData() == "listen")

    def settings(self) -> field_values.EndpointSettings:
        return field_values.EndpointSettings(
            role="player" if self.role.currentData() == "player" else "remote",
            mode="listen" if self.is_listen else "connect",
            host=self.host.text().strip(),
            listen_interface=self.listen_interface.text().strip() or field_values.ALL_INTERFACES,
            listen_once=self.listen_once.isChecked(),
            port=self.port.value(),
            transport_port=self.transport_port.value(),
            secure=self.secure.isChecked(),
            runtime=self.runtime_choice.currentData() or "auto",
            runtime_json=self.runtime_json.text().strip(),
            server=self.server_panel.settings(),
            client=self.client_panel.settings(),
        )

    def set_mode(self, mode: str) -> None:
        self.mode.setCurrentIndex(self.mode.findData(mode))

    def set_role(self, role: str) -> None:
        self.role.setCurrentIndex(self.role.findData(role))

    # --- actions -----------------------------------------------------------------------

    def start(self) -> None:
        if self.controller.active:
            return
        settings = self.settings()
        self.progress.set_target(
            "" if settings.mode == "listen" else f"{settings.host}:{settings.port}"
        )
        self.reason_label.hide()
        self._runtime_problem = False
        self._runtime_checks += 1  # the session's own answer replaces any check under way
        self.controller.start(self.settings(), self.tofu.ask_user)

    def end(self) -> None:
        """The Disconnect button."""
        self.controller.end()

    def cancel(self) -> bool:
        """Esc / the Cancel button: end a connect that is under way. True if there
        was one."""
        if self.controller.state in ("starting", "connecting") and not self.is_listen:
            self.controller.end()
            return True
        return False

    def _connect_clicked(self) -> None:
        if not self.cancel():
            self.start()

    # --- reactions ---------------------------------------------------------------------

    def _mode_changed(self, *_args: object) -> None:
        listen = self.is_listen
        self.host.setToolTip("Host name or IP address of the listener")
        self._form.setRowVisible(self.host, not listen)
        self._form.setRowVisible(self._interface_row, listen)
        self.listen_once.setVisible(listen)
        self.clear_problem()
        self.server_panel.setVisible(listen)
        self.client_panel.setVisible(not listen)
        self.connect_button.setVisible(not listen)
        self.listen_button.setVisible(listen)

    def _runtime_changed(self, *_args: object) -> None:
        """The hint until the choice is checked (at start-up, and while typing a path)."""
        if not self.controller.active:
            self._runtime_checks += 1  # a check under way answers for an older choice
            self._runtime_in_use(
                session_opening.describe_runtime(
                    self.runtime_choice.currentData() or "auto", self.runtime_json.text().strip()
                )
            )

    def check_runtime(self, *_args: object) -> None:
        """Ask `app.endpoint.runtime_choice` (off the UI thread) which runtime this choice
        gives; "In use" shows its sentence, the status bar its error and fix."""
        if self.controller.active:
            return
        self._runtime_checks += 1
        self.runtime_label.setText("Checking\u2026")
        set_severity(self.runtime_label, "")
        settings = self.settings()
        self.jobs.spawn(
            "check runtime",
            self._check_runtime(
                self._runtime_checks, settings.runtime, settings.runtime_json, settings.role
            ),
        )

    async def _check_runtime(
        self, number: int, choice: field_values.RuntimeChoice, runtime_json: str, role: str
    ) -> None:
        try:
            text = await run_blocking(session_opening.check_runtime, choice, runtime_json, role)
        except Exception as exc:  # noqa: BLE001 - shown in "In use" and the status bar
            if number != self._runtime_checks or self.controller.active:
                return
            message, fix = window_error_text(exc)
            self._runtime_in_use(message, "error")
            self._runtime_problem = True
            self.show_problem("Runtime", message, fix)
            return
        if number != self._runtime_checks or self.controller.active:
            return
        self._runtime_in_use(text)
        if self._runtime_problem:
            self._runtime_problem = False
            self.reason_label.hide()
            self.statusChanged.emit(self.state_label.text(), "")

    def _runtime_in_use(self, text: str, severity: str = "") -> None:
        self.runtime_label.setText(text)
        set_severity(self.runtime_label, severity)

    def _state_changed(self, state: str) -> None:
        if state == "connected":
            self.reason_label.hide()  # a listener's earlier refusal is over
        active = state not in ("idle", "disconnected")
        text = STATE_TEXT.get(state, state)
        if state == "listening" and self.controller.listening_port is not None:
            text = f"Listening on port {self.controller.listening_port}"
        self.state_label.setText(text)
        for widget in (self.connect_button, self.listen_button):
            widget.setEnabled(not active)
        # While a connect is under way the Connect button is its Cancel.
        attempting = state in ("starting", "connecting") and not self.is_listen
        self.connect_button.setText("Cancel" if attempting else "Connect")
        self.connect_button.setAccessibleName(
            "Cancel the connection attempt" if attempting else "Connect"
        )
        if attempting:
            self.connect_button.setEnabled(True)
        self.disconnect_button.setEnabled(active)
        fields: tuple[QWidget, ...] = (
            self.role,
            self.mode,
            self.host,
            self.port,
            self.transport_port,
            self.listen_interface,
            self.all_interfaces_button,
            self.loopback_button,
            self.listen_once,
        )
        for field_widget in fields:
            field_widget.setEnabled(not active)
        if state in ("idle", "disconnected"):
            self.share_panel.hide()
        self.secure.setEnabled(not active)
        self.runtime_choice.setEnabled(not active)
        self.runtime_json.setEnabled(not active)
        self.server_panel.setEnabled(not active)
        self.client_panel.setEnabled(not active)
        self.statusChanged.emit(
            text, self.reason_label.text() if self.reason_label.isVisible() else ""
        )

    def _listening(self, port: int) -> None:
        """Listening (again, after a refused client: its reason stays shown)."""
        self.state_label.setText(f"Listening on port {port}")
        self.statusChanged.emit(self.state_label.text(), self._problem_detail())
        settings = self.settings()
        self.jobs.spawn("share", self._share(settings, port))

    async def _share(self, settings: field_values.EndpointSettings, port: int) -> None:
        """Fill the Share panel: the pin of the certificate served (read off the UI
        thread), the addresses, the connect line."""
        pin = ""
        if settings.secure:
            served = await run_blocking(certificate_views.served_certificate, settings.server)
            pin = served.pin
        if self.controller.state != "listening" or self.controller.listening_port != port:
            return  # stopped (or moved) meanwhile
        info = session_opening.share_info(
            settings.listen_interface, port, pin, settings.role, machine_addresses()
        )
        self.share_panel.show_listener(info)
        self.share_panel.show()

    def _disconnected(self, code: int, spec: str, explanation: str, fix: str) -> None:
        if code == int(DisconnectReason.PEER_DISCONNECT_REQUEST):
            # The peer ended the session: information, not an error.
            self.show_information("The other end closed the session", explanation)
            return
        if session_opening.is_clean_disconnect(code):
            self.reason_label.hide()
            self.statusChanged.emit(self.state_label.text(), "")
            return
        if self.controller.stop_requested:
            # Cancel (or Disconnect) ended an attempt under way: what was asked for.
            self.show_information("Canceled", f"The connection attempt was canceled ({spec}).")
            return
        self.show_problem(f"{spec} ({code})", explanation, fix)

    def _start_failed(self, message: str, fix: str) -> None:
        self.show_problem("Could not start", message, fix)

    def show_information(self, title: str, explanation: str) -> None:
        """A clean end (the peer's request): said in the information style."""
        self.reason_label.setText(f"<b>{title}</b><br>{explanation}")
        set_severity(self.reason_label, "info")
        self.reason_label.show()
        self._problem = f"{title}: {explanation}"
        self.statusChanged.emit(self.state_label.text(), self._problem)

    def clear_problem(self) -> None:
        """Forget the last attempt's problem (the mode or a file changed: it no
        longer applies)."""
        if self.controller.active:
            return
        self.reason_label.hide()
        self.reason_label.clear()
        self._problem = ""
        self.share_panel.clear()
        self.share_panel.hide()
        self.statusChanged.emit(self.state_label.text(), "")

    def show_problem(self, title: str, explanation: str, fix: str) -> None:
        text = f"<b>{title}</b><br>{explanation}"
        if fix:
            text += f"<br><i>Fix:</i> {fix}"
        self.reason_label.setText(text)
        set_severity(self.reason_label, "error")
        self.reason_label.show()
        self._problem = f"{title}: {explanation}" + (f" Fix: {fix}" if fix else "")
        self.statusChanged.emit(self.state_label.text(), self._problem)

    def _problem_detail(self) -> str:
        return "" if self.reason_label.isHidden() else self._problem

    def problem_text(self) -> str:
        return self.reason_label.text() if self.reason_label.isVisible() else ""

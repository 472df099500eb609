"""Fixtures for the window tests: a qasync loop on pytest-qt's QApplication, an
isolated QSettings file, real callback records and a real test PKI.

The loop is created "already running" because pytest-qt drives Qt's event loop
(qtbot.waitUntil / waitSignal); asyncio work scheduled by the window (to_thread
jobs, the session) then runs whenever Qt processes events, as in the real app.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.endpoint.callbacks import (
    SecureConnectionCallbacks,
    fixed_server_certificate,
    fixed_token,
    system_result_validator,
)
from app.security.testpki import GeneratedPki, create_test_pki, generate_private_key
from app.xr import invoke
from app.xr.callback_types import ServerCertificateMaterial
from app.xr.records import CallbackRecord
from app.xr.validation_result import ValidationResult
from app.xr.values import CertificateNameValidationResult

TOKEN = "s3cret-token-value-that-must-never-show"
PASSPHRASE = "pfx-passphrase-never-in-settings"


@pytest.fixture(scope="session")
def _qasync_session_loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.events._set_running_loop(None)  # running only inside a test that asks
    yield loop
    loop.stop()
    loop.close()


@pytest.fixture
def qasync_loop(
    _qasync_session_loop: asyncio.AbstractEventLoop,
) -> Iterator[asyncio.AbstractEventLoop]:
    """The loop counts as running for the test that asks for it, and only for it: left
    running for the rest of the session, it made every later `asyncio.run()` (the
    engine's tests after the window's, in one pytest process) refuse to start."""
    loop = _qasync_session_loop
    asyncio.set_event_loop(loop)
    asyncio.events._set_running_loop(loop)
    try:
        yield loop
    finally:
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(None)


@pytest.fixture(autouse=True)
def no_openxr_runtime(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The machine's own OpenXR runtime (XR_RUNTIME_JSON, active_runtime.json) never
    leaks in: "Automatic" means the built-in runtime unless a test names a manifest.
    Choosing a manifest sets XR_RUNTIME_JSON for the process; monkeypatch undoes it."""
    # setenv first so that monkeypatch records the value before the test and puts it
    # back (unset) afterwards, also when the code under test set it: delenv of an
    # unset variable records nothing.
    monkeypatch.setenv("XR_RUNTIME_JSON", "")
    monkeypatch.delenv("XR_RUNTIME_JSON")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg-dirs"))


@pytest.fixture(scope="session")
def xr_test_runtimes(
    tmp_path_factory: pytest.TempPathFactory, require_tool: Callable[[str], str]
) -> dict[str, Path]:
    """Manifests of the test OpenXR runtime (tests/support/openxr_runtime), compiled
    once: "full" offers XR_MSFT_holographic_remoting, "no-extension" does not."""
    from tests.support.openxr_runtime import build, variants
    from tests.support.openxr_runtime import runtime as test_runtime

    require_tool("cc")
    out = tmp_path_factory.mktemp("ui-openxr-runtime")
    library = build.compile_shim(out / "build")
    manifests = {}
    for variant in (variants.FULL, variants.NO_EXTENSION):
        built = build.make_variant(library, out, variant)
        test_runtime.install(str(built.library), built.variant)
        manifests[variant.name] = built.manifest
    return manifests


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "holoremote.ini"


@pytest.fixture
def qsettings(settings_file: Path) -> QSettings:
    return QSettings(str(settings_file), QSettings.Format.IniFormat)


def close_window(qtbot: Any, window: Any) -> None:
    """Close a window the way the application does at exit (close, then `aclose`:
    every session ends and closes its runtime, every job finishes), on the test's
    loop, before pytest-qt deletes it. Without it a session still closing when the
    test's loop went away never closed its runtime, whose thread then ran on through
    the later tests (14 runtimes by the end of tests/ui)."""
    window.close()
    closing = asyncio.ensure_future(window.aclose())
    qtbot.waitUntil(closing.done, timeout=15_000)
    closing.result()


@pytest.fixture
def window(qtbot, qasync_loop, qsettings: QSettings) -> Iterator[Any]:
    """The real main window with isolated settings and no keyring; at the end, waits
    for everything it started off the UI thread."""
    from ui.secrets import NotRememberingStore
    from ui.window import MainWindow

    win = MainWindow(qsettings, secret_store=NotRememberingStore("tests"))
    qtbot.addWidget(win, before_close_func=lambda w: close_window(qtbot, w))
    win.show()
    yield win
    e = win.endpoint
    qtbot.waitUntil(
        lambda: (
            not (win.jobs.busy or e.jobs.busy or e.server_panel.jobs.busy or e.controller.active)
        ),
        timeout=10_000,
    )


@pytest.fixture(scope="session")
def pki() -> GeneratedPki:
    """One CA + intermediate + server .pfx for 127.0.0.1 / localhost (keys made once)."""
    return create_test_pki(
        ["localhost"],
        ["127.0.0.1"],
        friendly_name="holoremote-test",
        passphrase=PASSPHRASE,
        intermediate=True,
        ca_key=generate_private_key(),
        intermediate_key=generate_private_key(),
        server_key=generate_private_key(),
    )


@pytest.fixture
def pki_files(pki: GeneratedPki, tmp_path: Path) -> dict[str, Path]:
    return pki.write(tmp_path / "pki")


def good_verdict() -> ValidationResult:
    return ValidationResult(
        trusted_root=True,
        name_mismatch=CertificateNameValidationResult.MATCH,
        reasons={
            "trustedRoot": "chains to the test CA",
            "nameMismatch": "127.0.0.1 is in the SANs",
        },
    )


def make_records(pki: GeneratedPki, *, token: str = TOKEN) -> list[CallbackRecord]:
    """All four callbacks, called through their function pointers by the app's own
    runtime-side invoker: real records, masked by the real trampolines."""
    records: list[CallbackRecord] = []
    callbacks = SecureConnectionCallbacks(
        token_provider=fixed_token(token),
        certificate_validator=system_result_validator,
        token_validator=lambda presented: presented == token,
        server_certificate_provider=fixed_server_certificate(
            ServerCertificateMaterial(pki.pfx, pki.passphrase, pki.friendly_name)
        ),
        record_sink=records.append,
    )
    try:
        client = callbacks.client_callbacks(perform_system_validation=True)
        server = callbacks.server_callbacks(realm="test-realm")
        assert invoke.request_server_certificate(server).ok
        assert invoke.request_authentication_token(client).ok
        chain = tuple(c.public_bytes(_der()) for c in pki.chain)
        assert invoke.validate_server_certificate(
            client,
            host_name="127.0.0.1",
            chain=chain,
            force_revocation_check=False,
            system_result=good_verdict(),
        ).ok
        assert invoke.validate_authentication_token(server, token).ok
    finally:
        callbacks.close()
    return records


def _der():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


@pytest.fixture(scope="session")
def records(pki: GeneratedPki) -> list[CallbackRecord]:
    return make_records(pki)


@pytest.fixture(scope="session")
def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _window(qtbot, path: Path) -> Any:
    from ui.secrets import NotRememberingStore
    from ui.window import MainWindow

    window = MainWindow(
        QSettings(str(path), QSettings.Format.IniFormat), secret_store=NotRememberingStore("tests")
    )
    qtbot.addWidget(window, before_close_func=lambda w: close_window(qtbot, w))
    window.show()
    return window


@pytest.fixture
def ends(qtbot, qasync_loop, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """Two real main windows (a listener and a client) with their own settings; at
    the end both are disconnected and their jobs have finished."""
    server = _window(qtbot, tmp_path / "server.ini")
    client = _window(qtbot, tmp_path / "client.ini")
    yield server, client
    for window in (client, server):
        window.endpoint.end()
    for window in (client, server):
        qtbot.waitUntil(lambda w=window: not w.endpoint.controller.active, timeout=15_000)
        qtbot.waitUntil(
            lambda w=window: (
                not (w.jobs.busy or w.endpoint.jobs.busy or w.endpoint.server_panel.jobs.busy)
            ),
            timeout=5_000,
        )

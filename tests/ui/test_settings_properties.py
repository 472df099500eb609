"""Property test of the settings loader: whatever a settings file holds (hand-edited,
truncated, another version's, random bytes), restoring the fields never raises and
leaves every widget with a value it can hold (hypothesis; profiles in
tests/conftest.py). Real QSettings INI files, offscreen widgets."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QLineEdit, QSpinBox

from ui.settings import FieldBinder

VALID = b"[client]\nhost=studio-3.lab\nport=8265\nsecure=true\nrole=remote\nrealm=lab\n"
KEYS = [b"host", b"port", b"secure", b"role", b"realm"]


def ini_documents() -> st.SearchStrategy[bytes]:
    values = st.one_of(
        st.binary(max_size=64),
        st.sampled_from(
            [b"", b"true", b"1", b"-1", b"9" * 40, b"@Variant(\\0\\0\\0\\x7f)", b"a, b, c", b'"x']
        ),
        st.integers().map(lambda n: str(n).encode()),
    )
    lines = st.lists(
        st.tuples(st.sampled_from(KEYS), values).map(lambda kv: kv[0] + b"=" + kv[1]),
        max_size=8,
    )
    return st.one_of(
        st.binary(max_size=512),
        lines.map(lambda items: b"[client]\n" + b"\n".join(items) + b"\n"),
        st.builds(lambda cut: VALID[:cut], st.integers(0, len(VALID))),
    )


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=ini_documents())
# Found by the long profile: a port beyond a C int made QSpinBox.setValue raise.
@example(document=b"[client]\nport=2147483648\n")
def test_restoring_fields_from_any_settings_file_never_raises(
    qapp: QApplication, tmp_path: Path, document: bytes
) -> None:
    path = tmp_path / "settings.ini"
    path.write_bytes(document)
    store = QSettings(str(path), QSettings.Format.IniFormat)
    host, realm = QLineEdit(), QLineEdit()
    port = QSpinBox()
    port.setRange(1, 65535)
    port.setValue(8265)
    secure = QCheckBox()
    role = QComboBox()
    role.addItem("remote", "remote")
    role.addItem("player", "player")
    binder = FieldBinder("client")
    for key, widget in (
        ("host", host),
        ("port", port),
        ("secure", secure),
        ("role", role),
        ("realm", realm),
    ):
        binder.add(key, widget)
    binder.restore(store)
    assert 1 <= port.value() <= 65535
    assert role.currentData() in ("remote", "player")
    # And what it restored can be saved again.
    binder.save(store)
    store.sync()

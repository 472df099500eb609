from __future__ import annotations

from app.remoting.reasons import all_texts, explain
from app.xr.values import DisconnectReason


def test_every_reason_has_an_explanation_and_a_fix() -> None:
    texts = all_texts()
    assert [t.reason for t in texts] == list(DisconnectReason)
    for text in texts:
        assert len(text.explanation) > 20, text.reason
        assert text.fix.endswith("."), text.reason
        assert text.side in ("client", "server", "client/server")


def test_handshake_connection_failed_names_secure_mode_and_the_chain() -> None:
    text = explain(DisconnectReason.HANDSHAKE_CONNECTION_FAILED)
    assert "secure mode" in text.explanation
    assert "certificate" in text.explanation
    assert "--secure" in text.fix
    assert (
        text.as_dict()["reason"] == "XR_REMOTING_DISCONNECT_REASON_HANDSHAKE_CONNECTION_FAILED_MSFT"
    )


def test_unknown_number_is_explained_not_raised() -> None:
    text = explain(99)
    assert "99" in text.explanation
    assert text.reason is DisconnectReason.UNKNOWN

"""verify_chain_file: the core of `holoremote verify` and the window's Verify a chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import InputError
from app.security.chain_file import revocation_options, verify_chain_file
from app.security.testpki import create_test_pki


def test_a_chain_file_is_accepted_against_its_ca_and_refused_for_another_host(
    tmp_path: Path,
) -> None:
    paths = create_test_pki(["server.test"], []).write(tmp_path)
    check = verify_chain_file(str(paths["chain"]), "server.test", ca_file=str(paths["ca"]))
    assert check.accepted and check.failed == [] and len(check.chain_der) >= 2
    other = verify_chain_file(str(paths["chain"]), "elsewhere.test", ca_file=str(paths["ca"]))
    assert not other.accepted and other.failed == ["nameMismatch"]


def test_unreadable_inputs_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as missing:
        verify_chain_file(str(tmp_path / "none.pem"), "server.test")
    assert "none.pem" in missing.value.message
    not_a_crl = tmp_path / "x.crl"
    not_a_crl.write_text("hello")
    with pytest.raises(InputError) as crl:
        revocation_options([str(not_a_crl)])
    assert str(not_a_crl) in crl.value.message and crl.value.fix

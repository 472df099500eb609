"""The certificate fixtures of the runtime tests, for the command tests."""

from tests.app.remoting.conftest import expired_pki, other_pki, pki

__all__ = ["expired_pki", "other_pki", "pki"]

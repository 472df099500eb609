"""The secure-connection context object: four callbacks, pluggable behaviour.

This is the seed page's `SecureConnectionCallbacks` class, an implementation of the
`app.xr.trampolines.CallbackHandler` protocol. The static trampolines (the only code
that touches the C structs) map the `context` pointer back to an instance of this
class and call its four plain-Python methods.
What each method does comes from a provider, so the CLI, the window and the tests
plug in a token source, a certificate policy, a token validator and a certificate
store without touching the pointer code.

Every call, successful or not, becomes a `CallbackRecord` passed to `record_sink`
(already masked). The sink may be called on a runtime thread; the session hands
records to its event loop with `call_soon_threadsafe`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType

from app.xr import trampolines
from app.xr.callback_types import (
    CallbackRefusal,
    CertificateValidationRequest,
    ServerCertificateMaterial,
)
from app.xr.records import CallbackRecord
from app.xr.structs import (
    XrRemotingSecureConnectionClientCallbacksMSFT,
    XrRemotingSecureConnectionServerCallbacksMSFT,
)
from app.xr.validation_result import ValidationResult

log = logging.getLogger(__name__)

TokenProvider = Callable[[], str]
CertificateValidator = Callable[[CertificateValidationRequest], ValidationResult]
TokenValidator = Callable[[str], bool]
ServerCertificateProvider = Callable[[], ServerCertificateMaterial]
RecordSink = Callable[[CallbackRecord], None]


class SecureConnectionCallbacks:
    """One per session. Thread-safe: runtimes call it from their own threads."""

    def __init__(
        self,
        *,
        token_provider: TokenProvider | None = None,
        certificate_validator: CertificateValidator | None = None,
        token_validator: TokenValidator | None = None,
        server_certificate_provider: ServerCertificateProvider | None = None,
        record_sink: RecordSink | None = None,
    ) -> None:
        self._token_provider = token_provider
        self._certificate_validator = certificate_validator
        self._token_validator = token_validator
        self._server_certificate_provider = server_certificate_provider
        self._record_sink = record_sink
        self.context = trampolines.register_context(self)
        self._realm: bytes = b""
        self._call_started: Callable[[str, float], None] | None = None

    def set_call_started(self, notify: Callable[[str, float], None] | None) -> None:
        """`notify(callback name, time.time())` when a callback begins (any thread)."""
        self._call_started = notify

    def _started(self, name: str) -> None:
        notify = self._call_started
        if notify is None:
            return
        try:
            notify(name, time.time())
        except Exception:
            log.debug("call-started notification failed", exc_info=True)

    # --- the four callbacks, as plain Python (called by the trampolines) -------------

    def request_authentication_token(self) -> str:
        self._started("RequestAuthenticationToken")
        if self._token_provider is None:
            raise CallbackRefusal("no authentication token is configured on this client")
        return self._token_provider()

    def validate_server_certificate(
        self, request: CertificateValidationRequest
    ) -> ValidationResult:
        self._started("ValidateServerCertificate")
        if self._certificate_validator is None:
            raise CallbackRefusal("no certificate validation policy is configured")
        return self._certificate_validator(request)

    def validate_authentication_token(self, token: str) -> bool:
        self._started("ValidateAuthenticationToken")
        if self._token_validator is None:
            raise CallbackRefusal("no token validator is configured on this server")
        return self._token_validator(token) is True

    def request_server_certificate(self) -> ServerCertificateMaterial:
        self._started("RequestServerCertificate")
        if self._server_certificate_provider is None:
            raise CallbackRefusal("no server certificate is configured")
        return self._server_certificate_provider()

    def record_call(self, record: CallbackRecord) -> None:
        if self._record_sink is not None:
            self._record_sink(record)

    # --- the structs to hand to xrRemotingSetSecureConnection*CallbacksMSFT --------

    def client_callbacks(
        self, *, perform_system_validation: bool = True
    ) -> XrRemotingSecureConnectionClientCallbacksMSFT:
        return trampolines.client_callbacks_struct(
            self.context, perform_system_validation=perform_system_validation
        )

    def server_callbacks(self, *, realm: str) -> XrRemotingSecureConnectionServerCallbacksMSFT:
        # Kept on self as well as in the struct: the runtime may keep the pointer.
        self._realm = realm.encode("utf-8")
        return trampolines.server_callbacks_struct(self.context, realm=self._realm)

    # --- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """After this, the context value is unknown and every callback refuses."""
        trampolines.unregister_context(self.context)

    def __enter__(self) -> SecureConnectionCallbacks:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- simple providers (the real ones live in tokens.py, policy.py, stores) ----------


def fixed_token(token: str) -> TokenProvider:
    """A token known up front (from a file, the environment or a field)."""

    def provide() -> str:
        return token

    return provide


def fixed_server_certificate(material: ServerCertificateMaterial) -> ServerCertificateProvider:
    def provide() -> ServerCertificateMaterial:
        return material

    return provide


def system_result_validator(request: CertificateValidationRequest) -> ValidationResult:
    """Take the runtime's system validation as the verdict, as Microsoft's sample does.

    Without a system result there is nothing to go on, so it refuses (fail closed).
    """
    if request.system_result is None:
        raise CallbackRefusal(
            "no system validation result was provided; enable performSystemValidation "
            "or configure a certificate policy"
        )
    return request.system_result

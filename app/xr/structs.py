"""ctypes mirror of XR_MSFT_holographic_remoting, revision 6 (connection and security).

Hazmat: these are the exact C layouts a runtime reads and writes. Names and field
names are the specification's; numbers are those of Microsoft's header
(`openxr_msft_holographic_remoting.h`, extension 66, enum base 1000065000), which
its runtime uses. tests/app/xr/test_layout.py proves every size and offset against
the system C compiler.

As in pyopenxr, each structure's constructor presets `type`, and `next` follows it,
so an instance can be handed straight to a runtime.
"""

from __future__ import annotations

import ctypes
from typing import Any, ClassVar

from app.xr.values import StructureType

# --- base types (openxr_platform_defines.h / openxr.h) ------------------------------
XrResult = ctypes.c_int32
XrStructureType = ctypes.c_int32
XrBool32 = ctypes.c_uint32
XrSystemId = ctypes.c_uint64
# XR_DEFINE_HANDLE on 64-bit platforms is a pointer to an opaque struct.
XrInstance = ctypes.c_void_p
# C enums are int-sized on every platform OpenXR supports.
XrEnum = ctypes.c_int32

# --- structures ---------------------------------------------------------------------


class _RemotingStruct(ctypes.Structure):
    """Common header: `type` preset to the structure's type, `next` second.

    Keyword arguments set fields as usual; `type` may still be overridden (a test that
    feeds a runtime a wrong type needs to).
    """

    STRUCTURE_TYPE: ClassVar[StructureType]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("type", int(self.STRUCTURE_TYPE))
        super().__init__(*args, **kwargs)

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={getattr(self, name)!r}" for name, *_ in self._fields_ if name != "next"
        )
        return f"{type(self).__name__}({fields})"


class XrRemotingRemoteContextPropertiesMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_REMOTE_CONTEXT_PROPERTIES_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("maxBitrateKbps", ctypes.c_uint32),
        ("enableAudio", XrBool32),
        ("videoCodec", XrEnum),
        ("depthBufferStreamResolution", XrEnum),
    ]


class XrRemotingConnectInfoMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_CONNECT_INFO_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("remoteHostName", ctypes.c_char_p),
        ("remotePort", ctypes.c_uint16),
        ("secureConnection", XrBool32),
    ]


class XrRemotingListenInfoMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_LISTEN_INFO_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("listenInterface", ctypes.c_char_p),
        ("handshakeListenPort", ctypes.c_uint16),
        ("transportListenPort", ctypes.c_uint16),
        ("secureConnection", XrBool32),
    ]


class XrRemotingDisconnectInfoMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_DISCONNECT_INFO_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
    ]


class XrRemotingEventDataListeningMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_EVENT_DATA_LISTENING_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("listeningPort", ctypes.c_uint16),
    ]


class XrRemotingEventDataConnectedMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_EVENT_DATA_CONNECTED_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
    ]


class XrRemotingEventDataDisconnectedMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_EVENT_DATA_DISCONNECTED_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("disconnectReason", XrEnum),
    ]


class XrRemotingAuthenticationTokenRequestMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_AUTHENTICATION_TOKEN_REQUEST_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("context", ctypes.c_void_p),
        ("tokenCapacityIn", ctypes.c_uint32),
        ("tokenSizeOut", ctypes.c_uint32),
        # char*, not c_char_p: the callback writes into it; c_char_p would copy.
        ("tokenBuffer", ctypes.POINTER(ctypes.c_char)),
    ]


class XrRemotingCertificateDataMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_CERTIFICATE_DATA_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("size", ctypes.c_uint32),
        ("data", ctypes.POINTER(ctypes.c_uint8)),
    ]


class XrRemotingCertificateValidationResultMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_CERTIFICATE_VALIDATION_RESULT_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("trustedRoot", XrBool32),
        ("revoked", XrBool32),
        ("expired", XrBool32),
        ("wrongUsage", XrBool32),
        ("nameMismatch", XrEnum),
        ("revocationCheckFailed", XrBool32),
        ("invalidCertOrChain", XrBool32),
    ]


class XrRemotingServerCertificateValidationMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_SERVER_CERTIFICATE_VALIDATION_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("context", ctypes.c_void_p),
        ("hostName", ctypes.c_char_p),
        ("forceRevocationCheck", XrBool32),
        ("numCertificates", ctypes.c_uint32),
        ("certificates", ctypes.POINTER(XrRemotingCertificateDataMSFT)),
        ("systemValidationResult", ctypes.POINTER(XrRemotingCertificateValidationResultMSFT)),
        ("validationResultOut", XrRemotingCertificateValidationResultMSFT),
    ]


class XrRemotingAuthenticationTokenValidationMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_AUTHENTICATION_TOKEN_VALIDATION_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("context", ctypes.c_void_p),
        # const char*: read as a pointer so a token is never turned into a bytes
        # object by ctypes before the callback decides how to read it.
        ("token", ctypes.POINTER(ctypes.c_char)),
        ("tokenValidOut", XrBool32),
    ]


class XrRemotingServerCertificateRequestMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_SERVER_CERTIFICATE_REQUEST_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("context", ctypes.c_void_p),
        ("certStoreCapacityIn", ctypes.c_uint32),
        ("certStoreSizeOut", ctypes.c_uint32),
        ("certStoreBuffer", ctypes.POINTER(ctypes.c_uint8)),
        ("keyPassphraseCapacityIn", ctypes.c_uint32),
        ("keyPassphraseSizeOut", ctypes.c_uint32),
        ("keyPassphraseBuffer", ctypes.POINTER(ctypes.c_char)),
        ("subjectNameCapacityIn", ctypes.c_uint32),
        ("subjectNameSizeOut", ctypes.c_uint32),
        ("subjectNameBuffer", ctypes.POINTER(ctypes.c_char)),
    ]


# --- callback function-pointer types -------------------------------------------------
# XRAPI_PTR is empty on Linux and has no effect on 64-bit Windows, so CFUNCTYPE fits both.

PFN_xrRemotingRequestAuthenticationTokenCallbackMSFT = ctypes.CFUNCTYPE(
    XrResult, ctypes.POINTER(XrRemotingAuthenticationTokenRequestMSFT)
)
PFN_xrRemotingValidateServerCertificateCallbackMSFT = ctypes.CFUNCTYPE(
    XrResult, ctypes.POINTER(XrRemotingServerCertificateValidationMSFT)
)
PFN_xrRemotingValidateAuthenticationTokenCallbackMSFT = ctypes.CFUNCTYPE(
    XrResult, ctypes.POINTER(XrRemotingAuthenticationTokenValidationMSFT)
)
PFN_xrRemotingRequestServerCertificateCallbackMSFT = ctypes.CFUNCTYPE(
    XrResult, ctypes.POINTER(XrRemotingServerCertificateRequestMSFT)
)


class XrRemotingSecureConnectionClientCallbacksMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_SECURE_CONNECTION_CLIENT_CALLBACKS_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("context", ctypes.c_void_p),
        (
            "requestAuthenticationTokenCallback",
            PFN_xrRemotingRequestAuthenticationTokenCallbackMSFT,
        ),
        ("validateServerCertificateCallback", PFN_xrRemotingValidateServerCertificateCallbackMSFT),
        ("performSystemValidation", XrBool32),
    ]


class XrRemotingSecureConnectionServerCallbacksMSFT(_RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_SECURE_CONNECTION_SERVER_CALLBACKS_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("context", ctypes.c_void_p),
        ("requestServerCertificateCallback", PFN_xrRemotingRequestServerCertificateCallbackMSFT),
        (
            "validateAuthenticationTokenCallback",
            PFN_xrRemotingValidateAuthenticationTokenCallbackMSFT,
        ),
        ("authenticationRealm", ctypes.c_char_p),
    ]


# --- the seven extension functions ---------------------------------------------------

PFN_xrRemotingSetContextPropertiesMSFT = ctypes.CFUNCTYPE(
    XrResult, XrInstance, XrSystemId, ctypes.POINTER(XrRemotingRemoteContextPropertiesMSFT)
)
PFN_xrRemotingConnectMSFT = ctypes.CFUNCTYPE(
    XrResult, XrInstance, XrSystemId, ctypes.POINTER(XrRemotingConnectInfoMSFT)
)
PFN_xrRemotingListenMSFT = ctypes.CFUNCTYPE(
    XrResult, XrInstance, XrSystemId, ctypes.POINTER(XrRemotingListenInfoMSFT)
)
PFN_xrRemotingDisconnectMSFT = ctypes.CFUNCTYPE(
    XrResult, XrInstance, XrSystemId, ctypes.POINTER(XrRemotingDisconnectInfoMSFT)
)
PFN_xrRemotingGetConnectionStateMSFT = ctypes.CFUNCTYPE(
    XrResult, XrInstance, XrSystemId, ctypes.POINTER(XrEnum), ctypes.POINTER(XrEnum)
)
PFN_xrRemotingSetSecureConnectionClientCallbacksMSFT = ctypes.CFUNCTYPE(
    XrResult,
    XrInstance,
    XrSystemId,
    ctypes.POINTER(XrRemotingSecureConnectionClientCallbacksMSFT),
)
PFN_xrRemotingSetSecureConnectionServerCallbacksMSFT = ctypes.CFUNCTYPE(
    XrResult,
    XrInstance,
    XrSystemId,
    ctypes.POINTER(XrRemotingSecureConnectionServerCallbacksMSFT),
)

# Name -> function-pointer type, in the order the specification introduces them.
EXTENSION_FUNCTIONS: dict[str, Any] = {
    "xrRemotingSetContextPropertiesMSFT": PFN_xrRemotingSetContextPropertiesMSFT,
    "xrRemotingConnectMSFT": PFN_xrRemotingConnectMSFT,
    "xrRemotingListenMSFT": PFN_xrRemotingListenMSFT,
    "xrRemotingDisconnectMSFT": PFN_xrRemotingDisconnectMSFT,
    "xrRemotingGetConnectionStateMSFT": PFN_xrRemotingGetConnectionStateMSFT,
    "xrRemotingSetSecureConnectionClientCallbacksMSFT": (
        PFN_xrRemotingSetSecureConnectionClientCallbacksMSFT
    ),
    "xrRemotingSetSecureConnectionServerCallbacksMSFT": (
        PFN_xrRemotingSetSecureConnectionServerCallbacksMSFT
    ),
}

EXTENSION_NAME = "XR_MSFT_holographic_remoting"
EXTENSION_SPEC_VERSION = 6

# Every structure of the connection-and-security part, for the layout test and for
# readers who want the whole list in one place.
ALL_STRUCTS: tuple[type[_RemotingStruct], ...] = (
    XrRemotingRemoteContextPropertiesMSFT,
    XrRemotingConnectInfoMSFT,
    XrRemotingListenInfoMSFT,
    XrRemotingDisconnectInfoMSFT,
    XrRemotingEventDataListeningMSFT,
    XrRemotingEventDataConnectedMSFT,
    XrRemotingEventDataDisconnectedMSFT,
    XrRemotingAuthenticationTokenRequestMSFT,
    XrRemotingCertificateDataMSFT,
    XrRemotingCertificateValidationResultMSFT,
    XrRemotingServerCertificateValidationMSFT,
    XrRemotingAuthenticationTokenValidationMSFT,
    XrRemotingServerCertificateRequestMSFT,
    XrRemotingSecureConnectionClientCallbacksMSFT,
    XrRemotingSecureConnectionServerCallbacksMSFT,
)

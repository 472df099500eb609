"""The extension's enum values as plain Python enums (no ctypes, no pointers).

Safe to import anywhere in `app`: security, remoting and the CLI speak in these.
Numbers are those of Microsoft's header `openxr_msft_holographic_remoting.h`
(extension 66, enum base 1000065000); tests/app/xr/test_values.py checks them against
the reference table.
"""

from __future__ import annotations

import enum

XR_TRUE = 1
XR_FALSE = 0


class Result(enum.IntEnum):
    """The XrResult values this app produces or interprets."""

    SUCCESS = 0
    TIMEOUT_EXPIRED = 1
    SESSION_LOSS_PENDING = 3
    EVENT_UNAVAILABLE = 4
    ERROR_VALIDATION_FAILURE = -1
    ERROR_RUNTIME_FAILURE = -2
    ERROR_OUT_OF_MEMORY = -3
    ERROR_API_VERSION_UNSUPPORTED = -4
    ERROR_INITIALIZATION_FAILED = -6
    ERROR_FUNCTION_UNSUPPORTED = -7
    ERROR_FEATURE_UNSUPPORTED = -8
    ERROR_EXTENSION_NOT_PRESENT = -9
    ERROR_LIMIT_REACHED = -10
    ERROR_SIZE_INSUFFICIENT = -11
    ERROR_HANDLE_INVALID = -12
    ERROR_INSTANCE_LOST = -13
    ERROR_SESSION_LOST = -17
    ERROR_SYSTEM_INVALID = -18
    ERROR_FORM_FACTOR_UNSUPPORTED = -34
    ERROR_FORM_FACTOR_UNAVAILABLE = -35
    ERROR_RUNTIME_UNAVAILABLE = -51
    ERROR_REMOTING_NOT_DISCONNECTED_MSFT = -1000065000
    ERROR_REMOTING_CODEC_NOT_FOUND_MSFT = -1000065001
    ERROR_REMOTING_CALLBACK_ERROR_MSFT = -1000065002

    @property
    def spec_name(self) -> str:
        """The name as the specification spells it (`XR_ERROR_SIZE_INSUFFICIENT`)."""
        return f"XR_{self.name}"


def result_name(value: int) -> str:
    """Spec name of an XrResult, or the bare number for one this app does not know."""
    try:
        return Result(value).spec_name
    except ValueError:
        return f"XrResult({value})"


class StructureType(enum.IntEnum):
    REMOTING_REMOTE_CONTEXT_PROPERTIES_MSFT = 1000065000
    REMOTING_CONNECT_INFO_MSFT = 1000065001
    REMOTING_LISTEN_INFO_MSFT = 1000065002
    REMOTING_DISCONNECT_INFO_MSFT = 1000065003
    REMOTING_EVENT_DATA_LISTENING_MSFT = 1000065004
    REMOTING_EVENT_DATA_CONNECTED_MSFT = 1000065005
    REMOTING_EVENT_DATA_DISCONNECTED_MSFT = 1000065006
    REMOTING_AUTHENTICATION_TOKEN_REQUEST_MSFT = 1000065007
    REMOTING_CERTIFICATE_DATA_MSFT = 1000065008
    REMOTING_CERTIFICATE_VALIDATION_RESULT_MSFT = 1000065009
    REMOTING_SERVER_CERTIFICATE_VALIDATION_MSFT = 1000065010
    REMOTING_AUTHENTICATION_TOKEN_VALIDATION_MSFT = 1000065011
    REMOTING_SERVER_CERTIFICATE_REQUEST_MSFT = 1000065012
    REMOTING_SECURE_CONNECTION_CLIENT_CALLBACKS_MSFT = 1000065013
    REMOTING_SECURE_CONNECTION_SERVER_CALLBACKS_MSFT = 1000065014
    # Data channels (the values file's "Data channels" table).
    EVENT_DATA_REMOTING_DATA_CHANNEL_CREATED_MSFT = 1000065015
    EVENT_DATA_REMOTING_DATA_CHANNEL_OPENED_MSFT = 1000065016
    EVENT_DATA_REMOTING_DATA_CHANNEL_DATA_RECEIVED_MSFT = 1000065017
    EVENT_DATA_REMOTING_DATA_CHANNEL_CLOSED_MSFT = 1000065018
    REMOTING_DATA_CHANNEL_CREATE_INFO_MSFT = 1000065019
    REMOTING_DATA_CHANNEL_STATE_MSFT = 1000065020
    REMOTING_DATA_CHANNEL_SEND_DATA_INFO_MSFT = 1000065021

    @property
    def spec_name(self) -> str:
        return f"XR_TYPE_{self.name}"


class ConnectionState(enum.IntEnum):
    """XrRemotingConnectionStateMSFT."""

    DISCONNECTED = 0
    CONNECTING = 1
    CONNECTED = 2

    @property
    def spec_name(self) -> str:
        return f"XR_REMOTING_CONNECTION_STATE_{self.name}_MSFT"


class DisconnectReason(enum.IntEnum):
    """XrRemotingDisconnectReasonMSFT, numbered as in the specification (0..28)."""

    NONE = 0
    UNKNOWN = 1
    NO_SERVER_CERTIFICATE = 2
    HANDSHAKE_PORT_BUSY = 3
    HANDSHAKE_UNREACHABLE = 4
    HANDSHAKE_CONNECTION_FAILED = 5
    AUTHENTICATION_FAILED = 6
    REMOTING_VERSION_MISMATCH = 7
    INCOMPATIBLE_TRANSPORT_PROTOCOLS = 8
    HANDSHAKE_FAILED = 9
    TRANSPORT_PORT_BUSY = 10
    TRANSPORT_UNREACHABLE = 11
    TRANSPORT_CONNECTION_FAILED = 12
    PROTOCOL_VERSION_MISMATCH = 13
    PROTOCOL_ERROR = 14
    VIDEO_CODEC_NOT_AVAILABLE = 15
    CANCELED = 16
    CONNECTION_LOST = 17
    DEVICE_LOST = 18
    DISCONNECT_REQUEST = 19
    HANDSHAKE_NETWORK_UNREACHABLE = 20
    HANDSHAKE_CONNECTION_REFUSED = 21
    VIDEO_FORMAT_NOT_AVAILABLE = 22
    PEER_DISCONNECT_REQUEST = 23
    PEER_DISCONNECT_TIMEOUT = 24
    SESSION_OPEN_TIMEOUT = 25
    REMOTING_HANDSHAKE_TIMEOUT = 26
    INTERNAL_ERROR = 27
    HANDSHAKE_PERMISSION_DENIED = 28

    @property
    def spec_name(self) -> str:
        return f"XR_REMOTING_DISCONNECT_REASON_{self.name}_MSFT"

    @classmethod
    def from_spec_name(cls, name: str) -> DisconnectReason:
        prefix, suffix = "XR_REMOTING_DISCONNECT_REASON_", "_MSFT"
        if not (name.startswith(prefix) and name.endswith(suffix)):
            raise ValueError(f"not a disconnect reason name: {name!r}")
        return cls[name[len(prefix) : -len(suffix)]]


class CertificateNameValidationResult(enum.IntEnum):
    """XrRemotingCertificateNameValidationResultMSFT."""

    NOT_CHECKED = 0
    MATCH = 1
    MISMATCH = 2

    @property
    def spec_name(self) -> str:
        return f"XR_REMOTING_CERTIFICATE_NAME_VALIDATION_RESULT_{self.name}_MSFT"


class VideoCodec(enum.IntEnum):
    """XrRemotingVideoCodecMSFT."""

    ANY = 0
    H264 = 1
    H265 = 2


class DepthBufferStreamResolution(enum.IntEnum):
    """XrRemotingDepthBufferStreamResolutionMSFT."""

    HALF = 0
    FULL = 1
    QUARTER = 2
    DISABLED = 3


class DataChannelPriority(enum.IntEnum):
    """XrRemotingDataChannelPriorityMSFT: the order in which queued data leaves."""

    LOW = 0
    MEDIUM = 1
    HIGH = 2

    @property
    def spec_name(self) -> str:
        return f"XR_REMOTING_DATA_CHANNEL_PRIORITY_{self.name}_MSFT"


class DataChannelStatus(enum.IntEnum):
    """XrRemotingDataChannelStatusMSFT."""

    OPEN_PENDING = 0
    OPENED = 1
    CLOSED = 2

    @property
    def spec_name(self) -> str:
        return f"XR_REMOTING_DATA_CHANNEL_STATUS_{self.name}_MSFT"


class DataChannelClosedReason(enum.IntEnum):
    """XrRemotingDataChannelClosedReasonMSFT: PROTOCOL = the peer closed it, ERROR =
    anything else (connection lost, a limit this end enforced)."""

    PROTOCOL = 0
    ERROR = 1

    @property
    def spec_name(self) -> str:
        return f"XR_REMOTING_DATA_CHANNEL_CLOSED_REASON_{self.name}_MSFT"


class DataChannelResult(enum.Enum):
    """The data-channel failure codes (`XR_ERROR_REMOTING_DATA_CHANNEL_*_MSFT`).

    Named only: their numbers are in neither the specification text nor the values
    table (the "Data channels" section of
    tests/data/reference/xr_msft_holographic_remoting-values.md), so
    this app never invents one. The built-in runtime raises them by name; a number from
    an OpenXR runtime is reported as the bare number it is.
    """

    INVALID_ID = "XR_ERROR_REMOTING_DATA_CHANNEL_INVALID_ID_MSFT"
    ID_ALREADY_IN_USE = "XR_ERROR_REMOTING_DATA_CHANNEL_ID_ALREADY_IN_USE_MSFT"
    CLOSED = "XR_ERROR_REMOTING_DATA_CHANNEL_CLOSED_MSFT"
    OPEN_PENDING = "XR_ERROR_REMOTING_DATA_CHANNEL_OPEN_PENDING_MSFT"
    INVALID_DATA = "XR_ERROR_REMOTING_DATA_CHANNEL_INVALID_DATA_MSFT"
    PACKET_EXPIRED = "XR_ERROR_REMOTING_DATA_CHANNEL_PACKET_EXPIRED_MSFT"

    @property
    def spec_name(self) -> str:
        return self.value


#: Channel ids each side may create (the specification, XrRemotingDataChannelCreateInfoMSFT).
REMOTE_CHANNEL_IDS = range(0, 64)
PLAYER_CHANNEL_IDS = range(64, 128)


def own_channel_ids(role: str) -> range:
    """The channel ids the end in `role` ("remote" or "player") may create."""
    return REMOTE_CHANNEL_IDS if role == "remote" else PLAYER_CHANNEL_IDS

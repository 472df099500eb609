"""The ctypes mirror must match the C layout byte for byte.

The C declarations below are transcribed from the specification text
(xr_msft_holographic_remoting-connection-and-security.txt and -data-channels.txt
in tests/data/reference); the
system C compiler says where every field lies, and the ctypes classes must agree.
"""

from __future__ import annotations

import ctypes
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from app.xr import channel_structs, structs
from tests.reference import reference_dir

C_DECLARATIONS = r"""
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef int32_t XrResult;
typedef uint32_t XrBool32;
typedef uint64_t XrSystemId;
typedef struct XrInstance_T* XrInstance;
typedef enum XrStructureType { XR_STRUCTURE_TYPE_MAX_ENUM = 0x7FFFFFFF } XrStructureType;
typedef enum XrRemotingVideoCodecMSFT { XR_REMOTING_VIDEO_CODEC_MAX_ENUM_MSFT = 0x7FFFFFFF } XrRemotingVideoCodecMSFT;
typedef enum XrRemotingDepthBufferStreamResolutionMSFT { XR_DBSR_MAX_ENUM = 0x7FFFFFFF } XrRemotingDepthBufferStreamResolutionMSFT;
typedef enum XrRemotingDisconnectReasonMSFT { XR_DR_MAX_ENUM = 0x7FFFFFFF } XrRemotingDisconnectReasonMSFT;
typedef enum XrRemotingCertificateNameValidationResultMSFT { XR_NV_MAX_ENUM = 0x7FFFFFFF } XrRemotingCertificateNameValidationResultMSFT;

typedef struct XrRemotingRemoteContextPropertiesMSFT {
    XrStructureType type; void* next; uint32_t maxBitrateKbps; XrBool32 enableAudio;
    XrRemotingVideoCodecMSFT videoCodec;
    XrRemotingDepthBufferStreamResolutionMSFT depthBufferStreamResolution;
} XrRemotingRemoteContextPropertiesMSFT;
typedef struct XrRemotingConnectInfoMSFT {
    XrStructureType type; const void* next; const char* remoteHostName; uint16_t remotePort;
    XrBool32 secureConnection;
} XrRemotingConnectInfoMSFT;
typedef struct XrRemotingListenInfoMSFT {
    XrStructureType type; const void* next; const char* listenInterface;
    uint16_t handshakeListenPort; uint16_t transportListenPort; XrBool32 secureConnection;
} XrRemotingListenInfoMSFT;
typedef struct XrRemotingDisconnectInfoMSFT { XrStructureType type; const void* next; } XrRemotingDisconnectInfoMSFT;
typedef struct XrRemotingEventDataListeningMSFT {
    XrStructureType type; const void* next; uint16_t listeningPort;
} XrRemotingEventDataListeningMSFT;
typedef struct XrRemotingEventDataConnectedMSFT { XrStructureType type; const void* next; } XrRemotingEventDataConnectedMSFT;
typedef struct XrRemotingEventDataDisconnectedMSFT {
    XrStructureType type; const void* next; XrRemotingDisconnectReasonMSFT disconnectReason;
} XrRemotingEventDataDisconnectedMSFT;
typedef struct XrRemotingAuthenticationTokenRequestMSFT {
    XrStructureType type; const void* next; void* context; uint32_t tokenCapacityIn;
    uint32_t tokenSizeOut; char* tokenBuffer;
} XrRemotingAuthenticationTokenRequestMSFT;
typedef struct XrRemotingCertificateDataMSFT {
    XrStructureType type; const void* next; uint32_t size; const uint8_t* data;
} XrRemotingCertificateDataMSFT;
typedef struct XrRemotingCertificateValidationResultMSFT {
    XrStructureType type; const void* next; XrBool32 trustedRoot; XrBool32 revoked;
    XrBool32 expired; XrBool32 wrongUsage;
    XrRemotingCertificateNameValidationResultMSFT nameMismatch;
    XrBool32 revocationCheckFailed; XrBool32 invalidCertOrChain;
} XrRemotingCertificateValidationResultMSFT;
typedef struct XrRemotingServerCertificateValidationMSFT {
    XrStructureType type; const void* next; void* context; const char* hostName;
    XrBool32 forceRevocationCheck; uint32_t numCertificates;
    const XrRemotingCertificateDataMSFT* certificates;
    XrRemotingCertificateValidationResultMSFT* systemValidationResult;
    XrRemotingCertificateValidationResultMSFT validationResultOut;
} XrRemotingServerCertificateValidationMSFT;
typedef struct XrRemotingAuthenticationTokenValidationMSFT {
    XrStructureType type; const void* next; void* context; const char* token;
    XrBool32 tokenValidOut;
} XrRemotingAuthenticationTokenValidationMSFT;
typedef struct XrRemotingServerCertificateRequestMSFT {
    XrStructureType type; const void* next; void* context;
    uint32_t certStoreCapacityIn; uint32_t certStoreSizeOut; uint8_t* certStoreBuffer;
    uint32_t keyPassphraseCapacityIn; uint32_t keyPassphraseSizeOut; char* keyPassphraseBuffer;
    uint32_t subjectNameCapacityIn; uint32_t subjectNameSizeOut; char* subjectNameBuffer;
} XrRemotingServerCertificateRequestMSFT;
typedef XrResult (*PFN_xrRemotingRequestAuthenticationTokenCallbackMSFT)(XrRemotingAuthenticationTokenRequestMSFT*);
typedef XrResult (*PFN_xrRemotingValidateServerCertificateCallbackMSFT)(XrRemotingServerCertificateValidationMSFT*);
typedef XrResult (*PFN_xrRemotingValidateAuthenticationTokenCallbackMSFT)(XrRemotingAuthenticationTokenValidationMSFT*);
typedef XrResult (*PFN_xrRemotingRequestServerCertificateCallbackMSFT)(XrRemotingServerCertificateRequestMSFT*);
typedef struct XrRemotingSecureConnectionClientCallbacksMSFT {
    XrStructureType type; void* next; void* context;
    PFN_xrRemotingRequestAuthenticationTokenCallbackMSFT requestAuthenticationTokenCallback;
    PFN_xrRemotingValidateServerCertificateCallbackMSFT validateServerCertificateCallback;
    XrBool32 performSystemValidation;
} XrRemotingSecureConnectionClientCallbacksMSFT;
typedef struct XrRemotingSecureConnectionServerCallbacksMSFT {
    XrStructureType type; void* next; void* context;
    PFN_xrRemotingRequestServerCertificateCallbackMSFT requestServerCertificateCallback;
    PFN_xrRemotingValidateAuthenticationTokenCallbackMSFT validateAuthenticationTokenCallback;
    const char* authenticationRealm;
} XrRemotingSecureConnectionServerCallbacksMSFT;
"""

# From xr_msft_holographic_remoting-data-channels.txt (handles as XR_DEFINE_HANDLE
# declares them on 64-bit platforms: pointers to opaque structs).
C_DATA_CHANNEL_DECLARATIONS = r"""
typedef struct XrRemotingDataChannelMSFT_T* XrRemotingDataChannelMSFT;
typedef struct XrRemotingPacketIdMSFT_T* XrRemotingPacketIdMSFT;
typedef enum XrRemotingDataChannelPriorityMSFT { XR_DCP_MAX_ENUM = 0x7FFFFFFF } XrRemotingDataChannelPriorityMSFT;
typedef enum XrRemotingDataChannelStatusMSFT { XR_DCS_MAX_ENUM = 0x7FFFFFFF } XrRemotingDataChannelStatusMSFT;
typedef enum XrRemotingDataChannelClosedReasonMSFT { XR_DCR_MAX_ENUM = 0x7FFFFFFF } XrRemotingDataChannelClosedReasonMSFT;
typedef struct XrRemotingDataChannelCreateInfoMSFT {
    XrStructureType type; const void* next;
    XrRemotingDataChannelPriorityMSFT channelPriority; uint8_t channelId;
} XrRemotingDataChannelCreateInfoMSFT;
typedef struct XrEventDataRemotingDataChannelCreatedMSFT {
    XrStructureType type; void* next; uint8_t channelId; XrRemotingDataChannelMSFT channel;
} XrEventDataRemotingDataChannelCreatedMSFT;
typedef struct XrEventDataRemotingDataChannelOpenedMSFT {
    XrStructureType type; void* next; XrRemotingDataChannelMSFT channel;
} XrEventDataRemotingDataChannelOpenedMSFT;
typedef struct XrRemotingDataChannelSendDataInfoMSFT {
    XrStructureType type; const void* next; const uint8_t* data; uint32_t size;
    XrBool32 guaranteedDelivery;
} XrRemotingDataChannelSendDataInfoMSFT;
typedef struct XrEventDataRemotingDataChannelDataReceivedMSFT {
    XrStructureType type; void* next; XrRemotingDataChannelMSFT channel; uint32_t size;
    XrRemotingPacketIdMSFT packetId;
} XrEventDataRemotingDataChannelDataReceivedMSFT;
typedef struct XrRemotingDataChannelStateMSFT {
    XrStructureType type; void* next; uint32_t sendQueueSize;
    XrRemotingDataChannelStatusMSFT connectionStatus;
} XrRemotingDataChannelStateMSFT;
typedef struct XrEventDataRemotingDataChannelClosedMSFT {
    XrStructureType type; void* next; XrRemotingDataChannelMSFT channel;
    XrRemotingDataChannelClosedReasonMSFT closedReason;
} XrEventDataRemotingDataChannelClosedMSFT;
"""

MIRRORED = structs.ALL_STRUCTS + channel_structs.DATA_CHANNEL_STRUCTS


def _probe_source() -> str:
    lines = [C_DECLARATIONS, C_DATA_CHANNEL_DECLARATIONS, "int main(void) {"]
    lines.append('    printf("handle sizeof %zu\\n", sizeof(XrRemotingDataChannelMSFT));')
    lines.append('    printf("handle alignof %zu\\n", _Alignof(XrRemotingPacketIdMSFT));')
    for struct in MIRRORED:
        name = struct.__name__
        lines.append(f'    printf("{name} sizeof %zu\\n", sizeof({name}));')
        lines.append(f'    printf("{name} alignof %zu\\n", _Alignof({name}));')
        for field, *_ in struct._fields_:
            lines.append(f'    printf("{name} {field} %zu\\n", offsetof({name}, {field}));')
    lines += ["    return 0;", "}"]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def c_layout(
    tmp_path_factory: pytest.TempPathFactory, require_tool: Callable[[str], str]
) -> dict[tuple[str, str], int]:
    cc = require_tool("cc")
    folder: Path = tmp_path_factory.mktemp("layout")
    source = folder / "layout.c"
    source.write_text(_probe_source())
    binary = folder / "layout"
    subprocess.run(
        [cc, "-std=c11", "-Wall", "-Werror", "-o", str(binary), str(source)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    output = subprocess.run([str(binary)], check=True, capture_output=True, text=True, timeout=10)
    layout = {}
    for line in output.stdout.splitlines():
        struct_name, key, value = line.split()
        layout[(struct_name, key)] = int(value)
    return layout


def _declared_structs(file_name: str) -> set[str]:
    text = (reference_dir() / file_name).read_text()
    declared = set()
    in_struct = False
    for line in text.splitlines():
        if line.startswith("typedef struct"):
            in_struct = True
        elif line.startswith("typedef enum"):
            in_struct = False
        elif line.startswith("} Xr") and in_struct:
            declared.add(line.split()[-1].rstrip(";"))
    assert declared, f"no struct declarations found in {file_name}"
    return declared


def test_every_struct_of_the_connection_and_security_part_is_mirrored() -> None:
    names = {struct.__name__ for struct in structs.ALL_STRUCTS}
    declared = _declared_structs("xr_msft_holographic_remoting-connection-and-security.txt")
    assert declared == names


def test_every_struct_of_the_data_channel_part_is_mirrored() -> None:
    names = {struct.__name__ for struct in channel_structs.DATA_CHANNEL_STRUCTS}
    declared = _declared_structs("xr_msft_holographic_remoting-data-channels.txt")
    assert declared == names


def test_every_data_channel_function_of_the_specification_has_a_pointer_type() -> None:
    text = (reference_dir() / "xr_msft_holographic_remoting-data-channels.txt").read_text()
    declared = set(re.findall(r"^XrResult (xr\w+MSFT)\(", text, flags=re.MULTILINE))
    assert declared == set(channel_structs.DATA_CHANNEL_FUNCTIONS)


def test_handles_are_pointer_sized(c_layout: dict[tuple[str, str], int]) -> None:
    handle = channel_structs.XrRemotingDataChannelMSFT
    assert ctypes.sizeof(handle) == c_layout[("handle", "sizeof")]
    assert (
        ctypes.alignment(channel_structs.XrRemotingPacketIdMSFT) == c_layout[("handle", "alignof")]
    )


def test_the_four_events_are_known_by_their_raw_type() -> None:
    assert sorted(channel_structs.DATA_CHANNEL_EVENTS) == list(range(1000065015, 1000065019))


@pytest.mark.parametrize("struct", MIRRORED, ids=lambda s: s.__name__)
def test_size_alignment_and_offsets_match_the_c_compiler(
    struct: type[ctypes.Structure], c_layout: dict[tuple[str, str], int]
) -> None:
    name = struct.__name__
    assert ctypes.sizeof(struct) == c_layout[(name, "sizeof")]
    assert ctypes.alignment(struct) == c_layout[(name, "alignof")]
    for field, *_ in struct._fields_:
        assert getattr(struct, field).offset == c_layout[(name, field)], field


@pytest.mark.parametrize("struct", MIRRORED, ids=lambda s: s.__name__)
def test_type_is_preset_and_next_is_second(struct: type[structs._RemotingStruct]) -> None:
    instance = struct()
    assert instance.type == int(struct.STRUCTURE_TYPE)
    assert [name for name, *_ in struct._fields_[:2]] == ["type", "next"]

"""The ctypes mirror must match the C layout byte for byte.

The C declarations below are transcribed from the specification text
(shared/reference/xr_msft_holographic_remoting-connection-and-security.txt); the
system C compiler says where every field lies, and the ctypes classes must agree.
"""

from __future__ import annotations

import ctypes
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from app.xr import structs
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


def _probe_source() -> str:
    lines = [C_DECLARATIONS, "int main(void) {"]
    for struct in structs.ALL_STRUCTS:
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


def test_every_struct_of_the_connection_and_security_part_is_mirrored() -> None:
    names = {struct.__name__ for struct in structs.ALL_STRUCTS}
    text = (
        reference_dir() / "xr_msft_holographic_remoting-connection-and-security.txt"
    ).read_text()
    declared = set()
    in_struct = False
    for line in text.splitlines():
        if line.startswith("typedef struct"):
            in_struct = True
        elif line.startswith("typedef enum"):
            in_struct = False
        elif line.startswith("} Xr") and in_struct:
            declared.add(line.split()[-1].rstrip(";"))
    assert declared, "no struct declarations found in the specification text"
    assert declared == names


@pytest.mark.parametrize("struct", structs.ALL_STRUCTS, ids=lambda s: s.__name__)
def test_size_alignment_and_offsets_match_the_c_compiler(
    struct: type[ctypes.Structure], c_layout: dict[tuple[str, str], int]
) -> None:
    name = struct.__name__
    assert ctypes.sizeof(struct) == c_layout[(name, "sizeof")]
    assert ctypes.alignment(struct) == c_layout[(name, "alignof")]
    for field, *_ in struct._fields_:
        assert getattr(struct, field).offset == c_layout[(name, field)], field


@pytest.mark.parametrize("struct", structs.ALL_STRUCTS, ids=lambda s: s.__name__)
def test_type_is_preset_and_next_is_second(struct: type[structs._RemotingStruct]) -> None:
    instance = struct()
    assert instance.type == int(struct.STRUCTURE_TYPE)
    assert [name for name, *_ in struct._fields_[:2]] == ["type", "next"]

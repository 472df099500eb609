"""ctypes mirror of the data-channel part of XR_MSFT_holographic_remoting.

Hazmat, like `app.xr.structs`: the exact C layouts a runtime reads and writes, with the
specification's names (tests/data/reference/xr_msft_holographic_remoting-data-channels.txt).
tests/app/xr/test_layout.py proves every size and offset against the C compiler, and
tests/app/xr/test_values.py the structure-type numbers against the values table.

Handles (`XrRemotingDataChannelMSFT`, `XrRemotingPacketIdMSFT`) are
`XR_DEFINE_HANDLE`s: pointers to opaque structs on 64-bit platforms, mirrored as
`c_uint64` (same size, alignment and calling convention there) so that a handle read
from a struct is a plain int, never None.
"""

from __future__ import annotations

import ctypes
from typing import Any

from app.xr.structs import XrBool32, XrEnum, XrInstance, XrResult, XrStructureType, XrSystemId
from app.xr.structs import _RemotingStruct as RemotingStruct
from app.xr.values import StructureType

XrRemotingDataChannelMSFT = ctypes.c_uint64
XrRemotingPacketIdMSFT = ctypes.c_uint64


class XrRemotingDataChannelCreateInfoMSFT(RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_DATA_CHANNEL_CREATE_INFO_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("channelPriority", XrEnum),
        ("channelId", ctypes.c_uint8),
    ]


class XrEventDataRemotingDataChannelCreatedMSFT(RemotingStruct):
    STRUCTURE_TYPE = StructureType.EVENT_DATA_REMOTING_DATA_CHANNEL_CREATED_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("channelId", ctypes.c_uint8),
        ("channel", XrRemotingDataChannelMSFT),
    ]


class XrEventDataRemotingDataChannelOpenedMSFT(RemotingStruct):
    STRUCTURE_TYPE = StructureType.EVENT_DATA_REMOTING_DATA_CHANNEL_OPENED_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("channel", XrRemotingDataChannelMSFT),
    ]


class XrRemotingDataChannelSendDataInfoMSFT(RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_DATA_CHANNEL_SEND_DATA_INFO_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("data", ctypes.POINTER(ctypes.c_uint8)),
        ("size", ctypes.c_uint32),
        ("guaranteedDelivery", XrBool32),
    ]


class XrEventDataRemotingDataChannelDataReceivedMSFT(RemotingStruct):
    STRUCTURE_TYPE = StructureType.EVENT_DATA_REMOTING_DATA_CHANNEL_DATA_RECEIVED_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("channel", XrRemotingDataChannelMSFT),
        ("size", ctypes.c_uint32),
        ("packetId", XrRemotingPacketIdMSFT),
    ]


class XrRemotingDataChannelStateMSFT(RemotingStruct):
    STRUCTURE_TYPE = StructureType.REMOTING_DATA_CHANNEL_STATE_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("sendQueueSize", ctypes.c_uint32),
        ("connectionStatus", XrEnum),
    ]


class XrEventDataRemotingDataChannelClosedMSFT(RemotingStruct):
    STRUCTURE_TYPE = StructureType.EVENT_DATA_REMOTING_DATA_CHANNEL_CLOSED_MSFT
    _fields_ = [
        ("type", XrStructureType),
        ("next", ctypes.c_void_p),
        ("channel", XrRemotingDataChannelMSFT),
        ("closedReason", XrEnum),
    ]


# --- the five functions ----------------------------------------------------------------

PFN_xrCreateRemotingDataChannelMSFT = ctypes.CFUNCTYPE(
    XrResult,
    XrInstance,
    XrSystemId,
    ctypes.POINTER(XrRemotingDataChannelCreateInfoMSFT),
    ctypes.POINTER(XrRemotingDataChannelMSFT),
)
PFN_xrDestroyRemotingDataChannelMSFT = ctypes.CFUNCTYPE(XrResult, XrRemotingDataChannelMSFT)
PFN_xrGetRemotingDataChannelStateMSFT = ctypes.CFUNCTYPE(
    XrResult, XrRemotingDataChannelMSFT, ctypes.POINTER(XrRemotingDataChannelStateMSFT)
)
PFN_xrSendRemotingDataMSFT = ctypes.CFUNCTYPE(
    XrResult, XrRemotingDataChannelMSFT, ctypes.POINTER(XrRemotingDataChannelSendDataInfoMSFT)
)
# Two-call idiom: capacity 0 asks for the size (dataBytess may be NULL then).
PFN_xrRetrieveRemotingDataMSFT = ctypes.CFUNCTYPE(
    XrResult,
    XrRemotingDataChannelMSFT,
    XrRemotingPacketIdMSFT,
    ctypes.c_uint32,
    ctypes.POINTER(ctypes.c_uint32),
    ctypes.POINTER(ctypes.c_uint8),
)

DATA_CHANNEL_FUNCTIONS: dict[str, Any] = {
    "xrCreateRemotingDataChannelMSFT": PFN_xrCreateRemotingDataChannelMSFT,
    "xrDestroyRemotingDataChannelMSFT": PFN_xrDestroyRemotingDataChannelMSFT,
    "xrGetRemotingDataChannelStateMSFT": PFN_xrGetRemotingDataChannelStateMSFT,
    "xrSendRemotingDataMSFT": PFN_xrSendRemotingDataMSFT,
    "xrRetrieveRemotingDataMSFT": PFN_xrRetrieveRemotingDataMSFT,
}

DATA_CHANNEL_STRUCTS: tuple[type[RemotingStruct], ...] = (
    XrRemotingDataChannelCreateInfoMSFT,
    XrEventDataRemotingDataChannelCreatedMSFT,
    XrEventDataRemotingDataChannelOpenedMSFT,
    XrRemotingDataChannelSendDataInfoMSFT,
    XrEventDataRemotingDataChannelDataReceivedMSFT,
    XrRemotingDataChannelStateMSFT,
    XrEventDataRemotingDataChannelClosedMSFT,
)

# The four events, by their raw structure type (what a runtime's event buffer holds).
DATA_CHANNEL_EVENTS: dict[int, type[RemotingStruct]] = {
    int(s.STRUCTURE_TYPE): s
    for s in (
        XrEventDataRemotingDataChannelCreatedMSFT,
        XrEventDataRemotingDataChannelOpenedMSFT,
        XrEventDataRemotingDataChannelDataReceivedMSFT,
        XrEventDataRemotingDataChannelClosedMSFT,
    )
}

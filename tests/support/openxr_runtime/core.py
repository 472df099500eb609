"""The runtime side's own mirror of the few core OpenXR structs it reads and writes.

A runtime is written against openxr.h, not against pyopenxr, so this does not import
`xr`: if pyopenxr's layouts were wrong, the app and this runtime would disagree and
the tests would show it. Fields are transcribed from openxr.h.
"""

from __future__ import annotations

import ctypes

XR_MAX_EXTENSION_NAME_SIZE = 128
XR_MAX_RUNTIME_NAME_SIZE = 128
XR_MAX_APPLICATION_NAME_SIZE = 128
XR_MAX_ENGINE_NAME_SIZE = 128
XR_MAX_RESULT_STRING_SIZE = 64
XR_MAX_STRUCTURE_NAME_SIZE = 64

XR_TYPE_API_LAYER_PROPERTIES = 1
XR_TYPE_EXTENSION_PROPERTIES = 2
XR_TYPE_INSTANCE_CREATE_INFO = 3
XR_TYPE_SYSTEM_GET_INFO = 4
XR_TYPE_EVENT_DATA_BUFFER = 16
XR_TYPE_EVENT_DATA_INSTANCE_LOSS_PENDING = 17
XR_TYPE_EVENT_DATA_SESSION_STATE_CHANGED = 18
XR_TYPE_EVENT_DATA_EVENTS_LOST = 49
XR_TYPE_EVENT_DATA_INTERACTION_PROFILE_CHANGED = 52
XR_TYPE_INSTANCE_PROPERTIES = 32

XR_FORM_FACTOR_HEAD_MOUNTED_DISPLAY = 1

XR_SUCCESS = 0
XR_EVENT_UNAVAILABLE = 4
XR_ERROR_VALIDATION_FAILURE = -1
XR_ERROR_RUNTIME_FAILURE = -2
XR_ERROR_API_VERSION_UNSUPPORTED = -4
XR_ERROR_FUNCTION_UNSUPPORTED = -7
XR_ERROR_EXTENSION_NOT_PRESENT = -9
XR_ERROR_SIZE_INSUFFICIENT = -11
XR_ERROR_HANDLE_INVALID = -12
XR_ERROR_INSTANCE_LOST = -13
XR_ERROR_API_LAYER_NOT_PRESENT = -14
XR_ERROR_SYSTEM_INVALID = -18
XR_ERROR_FORM_FACTOR_UNSUPPORTED = -34


def version_major(version: int) -> int:
    return (version >> 48) & 0xFFFF


def version_minor(version: int) -> int:
    return (version >> 32) & 0xFFFF


def make_version(major: int, minor: int, patch: int) -> int:
    return (major << 48) | (minor << 32) | patch


class XrExtensionProperties(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int32),
        ("next", ctypes.c_void_p),
        ("extensionName", ctypes.c_char * XR_MAX_EXTENSION_NAME_SIZE),
        ("extensionVersion", ctypes.c_uint32),
    ]


class XrApplicationInfo(ctypes.Structure):
    _fields_ = [
        ("applicationName", ctypes.c_char * XR_MAX_APPLICATION_NAME_SIZE),
        ("applicationVersion", ctypes.c_uint32),
        ("engineName", ctypes.c_char * XR_MAX_ENGINE_NAME_SIZE),
        ("engineVersion", ctypes.c_uint32),
        ("apiVersion", ctypes.c_uint64),
    ]


class XrInstanceCreateInfo(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int32),
        ("next", ctypes.c_void_p),
        ("createFlags", ctypes.c_uint64),
        ("applicationInfo", XrApplicationInfo),
        ("enabledApiLayerCount", ctypes.c_uint32),
        ("enabledApiLayerNames", ctypes.POINTER(ctypes.c_char_p)),
        ("enabledExtensionCount", ctypes.c_uint32),
        ("enabledExtensionNames", ctypes.POINTER(ctypes.c_char_p)),
    ]


class XrInstanceProperties(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int32),
        ("next", ctypes.c_void_p),
        ("runtimeVersion", ctypes.c_uint64),
        ("runtimeName", ctypes.c_char * XR_MAX_RUNTIME_NAME_SIZE),
    ]


class XrSystemGetInfo(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int32),
        ("next", ctypes.c_void_p),
        ("formFactor", ctypes.c_int32),
    ]


class XrEventDataBaseHeader(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int32),
        ("next", ctypes.c_void_p),
    ]


# XrEventDataBuffer: type, next, uint8_t varying[4000].
XR_EVENT_DATA_BUFFER_SIZE = 16 + 4000


class XrEventDataInstanceLossPending(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int32),
        ("next", ctypes.c_void_p),
        ("lossTime", ctypes.c_int64),
    ]


class XrEventDataEventsLost(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int32),
        ("next", ctypes.c_void_p),
        ("lostEventCount", ctypes.c_uint32),
    ]


class XrEventDataSessionStateChanged(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int32),
        ("next", ctypes.c_void_p),
        ("session", ctypes.c_uint64),
        ("state", ctypes.c_int32),
        ("time", ctypes.c_int64),
    ]


class XrEventDataInteractionProfileChanged(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int32),
        ("next", ctypes.c_void_p),
        ("session", ctypes.c_uint64),
    ]


XR_SESSION_STATE_IDLE = 1

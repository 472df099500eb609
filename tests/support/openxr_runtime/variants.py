"""Which behaviour a built test runtime has; stored as config.json beside its library."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

EXTENSION_NAME = "XR_MSFT_holographic_remoting"
EXTENSION_VERSION = 6


@dataclass(frozen=True)
class Variant:
    """One flavour of the test runtime.

    - `offer_extension=False`: enumerates no XR_MSFT_holographic_remoting (and refuses
      an instance that asks for it), for the "runtime without the extension" error.
    - `missing_functions`: names xrGetInstanceProcAddr answers with
      XR_ERROR_FUNCTION_UNSUPPORTED, for the "function missing" error.
    - `pass_system_result=False`: ValidateServerCertificate gets the chain but a null
      `systemValidationResult`, as a runtime that does not validate would pass it.
    - `initial_capacity`: first buffer size offered to the app's callbacks (1 byte:
      the smallest the specification allows; the app must ask for more).
    - `callbacks_on_c_thread`: every call of an app callback runs on a thread the shim
      creates with pthreads (Python has never seen it), as a runtime written in C++
      calls them from its own network threads.
    - `foreign_events`: before every remoting event, xrPollEvent hands out events that
      are not the extension's (a session state change, an interaction profile change
      and one of a type the app cannot know), which the app must skip.
    - `lose_instance_after_connected`: after the connected event, xrPollEvent reports
      XrEventDataInstanceLossPending and every later call XR_ERROR_INSTANCE_LOST.
    - `events_lost_for_disconnect`: the disconnected event overflows the queue: the app
      gets XrEventDataEventsLost instead and must ask xrRemotingGetConnectionStateMSFT.
    - `silent_token_refusal` (a listener): after refusing a client's token the runtime
      reports nothing and, as far as the app can tell, goes on listening (state
      CONNECTING) until it is told to disconnect; the specification names
      AUTHENTICATION_FAILED a client's reason only.
    - `odd_connection_state`: xrRemotingGetConnectionStateMSFT writes a disconnect
      reason outside the enum (the app must not trust it blindly).
    """

    name: str = "full"
    offer_extension: bool = True
    missing_functions: tuple[str, ...] = ()
    pass_system_result: bool = True
    initial_capacity: int = 1
    runtime_name: str = "holoremote test runtime"
    #: The engine's role. OpenXR has no notion of it (Microsoft's runtime is always
    #: the remote end); two OpenXR ends need one variant to play the player.
    engine_role: str = "remote"
    #: The engine's timeouts: "test" (tests.support.builtin_options.quick_options) or "default".
    engine_timeouts: str = "test"
    callbacks_on_c_thread: bool = False
    foreign_events: bool = False
    lose_instance_after_connected: bool = False
    events_lost_for_disconnect: bool = False
    silent_token_refusal: bool = False
    odd_connection_state: bool = False

    def to_json(self) -> str:
        data = asdict(self)
        data["missing_functions"] = list(self.missing_functions)
        return json.dumps(data, indent=2)

    @classmethod
    def from_file(cls, path: Path) -> Variant:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["missing_functions"] = tuple(data.get("missing_functions", ()))
        return cls(**data)


FULL = Variant()
NO_EXTENSION = Variant(
    name="no-extension", offer_extension=False, runtime_name="holoremote test runtime (no ext)"
)
MISSING_FUNCTION = Variant(
    name="missing-function", missing_functions=("xrRemotingGetConnectionStateMSFT",)
)
NO_SYSTEM_RESULT = Variant(name="no-system-result", pass_system_result=False)
PLAYER = Variant(name="player", engine_role="player")
PLAYER_NO_SYSTEM_RESULT = Variant(
    name="player-no-system-result", engine_role="player", pass_system_result=False
)
# The independent stand-in's twin: callbacks from C threads, 1-byte first buffers, the
# chain as DER with or without a system result, the CLI's default timeouts.
TWIN = Variant(name="twin", callbacks_on_c_thread=True, engine_timeouts="default")
TWIN_NO_SYSTEM_RESULT = Variant(
    name="twin-no-system-result",
    callbacks_on_c_thread=True,
    pass_system_result=False,
    engine_timeouts="default",
)
TWIN_PLAYER = Variant(
    name="twin-player", callbacks_on_c_thread=True, engine_role="player", engine_timeouts="default"
)
# Spec-conforming but unlike the others (robustness of the app's OpenXR adapter).
FOREIGN_EVENTS = Variant(name="foreign-events", foreign_events=True)
INSTANCE_LOSS = Variant(name="instance-loss", lose_instance_after_connected=True)
EVENTS_LOST = Variant(name="events-lost", events_lost_for_disconnect=True)
ODD_STATE = Variant(name="odd-state", odd_connection_state=True)
SILENT_REFUSAL_PLAYER = Variant(
    name="silent-refusal-player",
    engine_role="player",
    silent_token_refusal=True,
    callbacks_on_c_thread=True,
    engine_timeouts="default",
)

ALL = (
    FULL,
    NO_EXTENSION,
    MISSING_FUNCTION,
    NO_SYSTEM_RESULT,
    PLAYER,
    PLAYER_NO_SYSTEM_RESULT,
    TWIN,
    TWIN_NO_SYSTEM_RESULT,
    TWIN_PLAYER,
    FOREIGN_EVENTS,
    INSTANCE_LOSS,
    EVENTS_LOST,
    ODD_STATE,
    SILENT_REFUSAL_PLAYER,
)

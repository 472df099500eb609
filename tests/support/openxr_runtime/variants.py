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
    #: The engine's timeouts: "test" (BuiltinOptions.for_tests) or "default".
    engine_timeouts: str = "test"

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

ALL = (FULL, NO_EXTENSION, MISSING_FUNCTION, NO_SYSTEM_RESULT, PLAYER, PLAYER_NO_SYSTEM_RESULT)

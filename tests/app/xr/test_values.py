"""Every number must be Microsoft's: any other breaks compatibility with its runtime."""

from __future__ import annotations

import re

import pytest

from app.xr import values
from tests.reference import reference_dir


def _table(section: str) -> dict[str, int]:
    text = (reference_dir() / "xr_msft_holographic_remoting-values.md").read_text()
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (XR_[A-Z0-9_]+) \| (-?\d+) \|$", body, flags=re.MULTILINE)
    assert rows, f"no rows found under {section}"
    return {name: int(number) for name, number in rows}


def test_structure_types_match_microsofts_header() -> None:
    table = _table("XrStructureType")
    assert len(table) == 15
    ours = {member.spec_name: int(member) for member in values.StructureType}
    assert ours == table


def test_remoting_results_match_microsofts_header() -> None:
    table = _table("XrResult")
    for name, number in table.items():
        assert values.Result[name.removeprefix("XR_")] == number
    assert values.Result.SUCCESS == 0
    assert values.Result.ERROR_RUNTIME_FAILURE == -2
    assert values.Result.ERROR_SIZE_INSUFFICIENT == -11


def _spec_enum(enum_name: str) -> dict[str, int]:
    text = (
        reference_dir() / "xr_msft_holographic_remoting-connection-and-security.txt"
    ).read_text()
    body = text.split(f"typedef enum {enum_name} {{", 1)[1].split("}", 1)[0]
    pairs = re.findall(r"(XR_[A-Z0-9_]+) = (0x[0-9A-Fa-f]+|\d+)", body)
    return {name: int(number, 0) for name, number in pairs if "MAX_ENUM" not in name}


@pytest.mark.parametrize(
    ("enum_name", "ours"),
    [
        ("XrRemotingDisconnectReasonMSFT", values.DisconnectReason),
        ("XrRemotingConnectionStateMSFT", values.ConnectionState),
        ("XrRemotingCertificateNameValidationResultMSFT", values.CertificateNameValidationResult),
    ],
)
def test_enums_match_the_specification(enum_name: str, ours: type[values.DisconnectReason]) -> None:
    spec = _spec_enum(enum_name)
    assert {member.spec_name: int(member) for member in ours} == spec


def test_video_codec_and_depth_resolution_match_the_specification() -> None:
    codecs = _spec_enum("XrRemotingVideoCodecMSFT")
    assert {f"XR_REMOTING_VIDEO_CODEC_{m.name}_MSFT": int(m) for m in values.VideoCodec} == codecs
    depth = _spec_enum("XrRemotingDepthBufferStreamResolutionMSFT")
    assert {
        f"XR_REMOTING_DEPTH_BUFFER_STREAM_RESOLUTION_{m.name}_MSFT": int(m)
        for m in values.DepthBufferStreamResolution
    } == depth


def test_disconnect_reason_names_round_trip() -> None:
    for reason in values.DisconnectReason:
        assert values.DisconnectReason.from_spec_name(reason.spec_name) is reason
    with pytest.raises(ValueError, match="not a disconnect reason"):
        values.DisconnectReason.from_spec_name("HandshakeConnectionFailed")


def test_unknown_result_is_named_by_number() -> None:
    assert values.result_name(-11) == "XR_ERROR_SIZE_INSUFFICIENT"
    assert values.result_name(-424242) == "XrResult(-424242)"

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
    channels = _table("Data channels")
    assert len(channels) == 7
    ours = {member.spec_name: int(member) for member in values.StructureType}
    assert ours == table | channels


def test_data_channel_structs_carry_the_tables_types() -> None:
    from app.xr import channel_structs

    channels = _table("Data channels")
    for struct in channel_structs.DATA_CHANNEL_STRUCTS:
        assert channels[struct.STRUCTURE_TYPE.spec_name] == struct().type, struct.__name__


def test_remoting_results_match_microsofts_header() -> None:
    table = _table("XrResult")
    for name, number in table.items():
        assert values.Result[name.removeprefix("XR_")] == number
    assert values.Result.SUCCESS == 0
    assert values.Result.ERROR_RUNTIME_FAILURE == -2
    assert values.Result.ERROR_SIZE_INSUFFICIENT == -11


def _spec_enum(
    enum_name: str, file_name: str = "xr_msft_holographic_remoting-connection-and-security.txt"
) -> dict[str, int]:
    text = (reference_dir() / file_name).read_text()
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


@pytest.mark.parametrize(
    ("enum_name", "ours"),
    [
        ("XrRemotingDataChannelPriorityMSFT", values.DataChannelPriority),
        ("XrRemotingDataChannelStatusMSFT", values.DataChannelStatus),
        ("XrRemotingDataChannelClosedReasonMSFT", values.DataChannelClosedReason),
    ],
)
def test_data_channel_enums_match_the_specification(
    enum_name: str, ours: type[values.DataChannelStatus]
) -> None:
    spec = _spec_enum(enum_name, "xr_msft_holographic_remoting-data-channels.txt")
    assert {member.spec_name: int(member) for member in ours} == spec


def test_every_data_channel_error_the_specification_returns_is_named() -> None:
    text = (reference_dir() / "xr_msft_holographic_remoting-data-channels.txt").read_text()
    listed = set(re.findall(r"^(XR_ERROR_REMOTING_DATA_CHANNEL_[A-Z_]+_MSFT)$", text, re.M))
    assert listed == {member.spec_name for member in values.DataChannelResult}
    # and every generic code they list has its number
    generic = set(re.findall(r"^XR_(ERROR_[A-Z_]+|SESSION_LOSS_PENDING)$", text, re.M))
    for name in generic - {n.removeprefix("XR_") for n in listed}:
        assert values.Result[name], name


def test_channel_id_ranges_are_the_specifications() -> None:
    text = (reference_dir() / "xr_msft_holographic_remoting-data-channels.txt").read_text()
    assert "remote side are from 0 up to and including 63" in text.replace(",and", ", and")
    assert "64 up to and including 127 for the player side" in text
    assert range(0, 64) == values.REMOTE_CHANNEL_IDS
    assert range(64, 128) == values.PLAYER_CHANNEL_IDS


def test_disconnect_reason_names_round_trip() -> None:
    for reason in values.DisconnectReason:
        assert values.DisconnectReason.from_spec_name(reason.spec_name) is reason
    with pytest.raises(ValueError, match="not a disconnect reason"):
        values.DisconnectReason.from_spec_name("HandshakeConnectionFailed")


def test_unknown_result_is_named_by_number() -> None:
    assert values.result_name(-11) == "XR_ERROR_SIZE_INSUFFICIENT"
    assert values.result_name(-424242) == "XrResult(-424242)"

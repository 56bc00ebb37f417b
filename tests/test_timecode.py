from __future__ import annotations

import pytest

from showcontrol.model.timecode import RATES, Label, count_to_label, label_to_count, parse_label

DF = RATES["29.97df"]


@pytest.mark.parametrize(
    ("count", "label"),
    [
        (0, Label(0, 0, 0, 0)),
        (1799, Label(0, 0, 59, 29)),
        (1800, Label(0, 1, 0, 2)),
        (17982, Label(0, 10, 0, 0)),
        (17981, Label(0, 9, 59, 29)),
        (107892, Label(1, 0, 0, 0)),
    ],
)
def test_drop_frame_labels(count: int, label: Label) -> None:
    assert count_to_label(count, DF) == label
    assert label_to_count(label, DF) == count


@pytest.mark.parametrize("name", list(RATES))
def test_every_count_round_trips_for_an_hour(name: str) -> None:
    rate = RATES[name]
    for count in range(0, int(rate.fps * 3700), 7):
        assert label_to_count(count_to_label(count, rate), rate) == count


def test_counts_wrap_at_24_hours_so_pre_roll_reads_23_59() -> None:
    assert count_to_label(-1, RATES["25"]) == Label(23, 59, 59, 24)
    assert count_to_label(-1, DF) == Label(23, 59, 59, 29)


def test_23976_is_labelled_as_24() -> None:
    assert RATES["23.976"].nominal == 24 and not RATES["23.976"].drop
    assert count_to_label(24, RATES["23.976"]) == Label(0, 0, 1, 0)


@pytest.mark.parametrize(
    ("text", "rate", "message"),
    [
        ("00:01:00;00", "29.97df", "does not exist in drop-frame"),
        ("00:00:00:25", "25", "frames 0-24"),
        ("24:00:00:00", "30", "out of range"),
        ("1:00:00", "25", "not a timecode"),
    ],
)
def test_bad_labels(text: str, rate: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_label(text, RATES[rate])

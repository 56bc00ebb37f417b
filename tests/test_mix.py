"""Routing stems onto interface channels: every kind of route lands on exactly its channels."""

from __future__ import annotations

import numpy as np
import pytest

from showcontrol.audio.mix import Stem, columns, mix_block


@pytest.mark.parametrize("channels", [(0, 1), (2, 3), (5,), (3, 1), (0, 2), (4, 5, 6, 7)])
def test_a_stem_lands_on_its_channels_and_nowhere_else(channels: tuple[int, ...]) -> None:
    rng = np.random.default_rng(7)
    data = rng.standard_normal((1000, len(channels))).astype(np.float32)
    stems = {"track": Stem(origin_frame=100, data=data)}
    out = np.full((256, 8), 9.0, np.float32)  # mix_block must clear what it does not write

    mix_block(stems, {"track": channels}, first_frame=50, out=out)

    expected = np.zeros((256, 8), np.float32)
    for column, channel in enumerate(channels):
        expected[50:, channel] = data[:206, column]  # song frame 100 is row 50
    np.testing.assert_array_equal(out, expected)


def test_two_stems_on_one_channel_add_up() -> None:
    ones = Stem(0, np.ones((64, 1), np.float32))
    twos = Stem(0, np.full((64, 2), 2.0, np.float32))
    out = np.empty((64, 3), np.float32)

    mix_block({"click": ones, "track": twos}, {"click": (1,), "track": (1, 2)}, first_frame=0, out=out)

    assert out[:, 0].tolist() == [0.0] * 64
    assert out[:, 1].tolist() == [3.0] * 64
    assert out[:, 2].tolist() == [2.0] * 64


def test_channels_in_order_index_as_a_slice_others_as_a_list() -> None:
    assert columns((2, 3, 4)) == slice(2, 5)
    assert columns((3, 1)) == [3, 1]
    assert columns((0, 2)) == [0, 2]

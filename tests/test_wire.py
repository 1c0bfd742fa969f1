"""Arrays cross the worker boundary bit for bit."""

import math

import numpy as np

from conformance.run import wire


def test_floats_keep_every_bit_including_signed_zero_and_nan():
    values = np.array([[-0.0, 0.0, 5e-324], [math.inf, -math.inf, math.nan]])
    back = wire.decode(wire.encode(values))
    assert back.shape == (2, 3)
    assert np.array_equal(back.view(np.int64), values.view(np.int64))


def test_labels_stay_integers():
    back = wire.decode(wire.encode(np.array([0, -100, 7])))
    assert back.dtype == np.int64 and back.tolist() == [0, -100, 7]

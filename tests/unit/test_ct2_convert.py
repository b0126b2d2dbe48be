"""The tracker's int8 weights stay inside the range where a CPU without VNNI adds the
products of a pair of them without saturating 16 bits (see app.ct2_convert)."""

import numpy as np

from app.ct2_convert import WEIGHT_LEVELS, quantize_row


def test_weights_use_seven_bits_and_a_row_scale():
    rng = np.random.default_rng(3)
    weights = rng.normal(0, 0.05, (64, 96)).astype(np.float32)
    weights[5] = 0.0
    values, scale = quantize_row(weights)
    assert values.dtype == np.int8 and scale.shape == (64,)
    assert np.abs(values).max() == WEIGHT_LEVELS
    assert 2 * 255 * int(np.abs(values).max()) <= np.iinfo(np.int16).max
    restored = values / scale[:, None]
    row_peak = np.abs(weights).max(axis=1, keepdims=True)
    assert np.all(np.abs(restored - weights) <= row_peak / WEIGHT_LEVELS / 2 + 1e-7)
    assert not values[5].any()


def test_convolution_kernels_are_quantized_per_output_channel():
    kernel = np.zeros((4, 3, 2), dtype=np.float32)
    kernel[1, 2, 1] = -2.0
    kernel[3, 0, 0] = 0.5
    values, scale = quantize_row(kernel)
    assert values.shape == kernel.shape
    assert values[1, 2, 1] == -WEIGHT_LEVELS and values[3, 0, 0] == WEIGHT_LEVELS
    assert np.allclose(scale[[1, 3]], [WEIGHT_LEVELS / 2.0, WEIGHT_LEVELS / 0.5])

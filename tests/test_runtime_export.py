"""deejai_model.ears.runtime.export_litert passes converter settings through Keras' exporter."""

from __future__ import annotations

import numpy as np
import pytest


def test_converter_settings_reach_the_converter(tmp_path):
    pytest.importorskip("ai_edge_litert")
    keras = pytest.importorskip("keras")
    import tensorflow as tf

    from deejai_model.ears.runtime import LiteRtRunner, export_litert

    inputs = keras.Input((32, 8))
    hidden = keras.layers.Flatten()(inputs)
    outputs = {"embedding": keras.layers.Dense(64, name="embedding")(hidden)}
    model = keras.Model(inputs, outputs)
    plain, quantised = tmp_path / "plain.tflite", tmp_path / "int8.tflite"
    export_litert(model, "embedding", plain)
    export_litert(model, "embedding", quantised, optimizations=[tf.lite.Optimize.DEFAULT])
    # 32*8*64 float32 weights: ~64 KiB; int8 weights: ~16 KiB
    assert quantised.stat().st_size < plain.stat().st_size / 2
    batch = np.random.default_rng(0).normal(size=(3, 32, 8)).astype(np.float32)
    expected = model(batch)["embedding"].numpy()
    assert np.allclose(LiteRtRunner(plain, batch_size=3).run(batch), expected, atol=1e-4)
    approx = LiteRtRunner(quantised, batch_size=3).run(batch)
    assert approx.shape == expected.shape and not np.allclose(approx, expected, atol=1e-6)
    with pytest.raises(ValueError, match="Unknown converter attribute"):
        export_litert(model, "embedding", tmp_path / "bad.tflite", no_such_setting=1)

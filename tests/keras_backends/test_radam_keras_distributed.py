"""radam_keras.RAdam and Ranger under tf.distribute.MirroredStrategy over two logical CPU devices.

Logical devices must be configured before TensorFlow runs any op, which the other tests
of the session already did, so the training runs in a fresh interpreter (KERAS_BACKEND=
tensorflow) and reports JSON back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

keras = pytest.importorskip("keras")
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.distribute.MirroredStrategy is TensorFlow-only",
)

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    import keras
    from radam_keras import RAdam, Ranger

    make_optimizer = {
        "RAdam": lambda: RAdam(learning_rate=0.05),
        "Ranger": lambda: Ranger(learning_rate=0.2, k=3, alpha=0.5),
    }[sys.argv[1]]

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")).astype("float32")

    def train(strategy):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = keras.Sequential([
                keras.Input((4,)),
                keras.layers.Dense(8, activation="tanh"),
                keras.layers.Dense(1),
            ])
            model.compile(optimizer=make_optimizer(), loss="mse")
        history = model.fit(x, y, batch_size=32, epochs=4, verbose=0, shuffle=False)
        return model, history.history["loss"]

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    model, losses = train(strategy)
    spread = 0.0
    for v in [*model.trainable_variables, *model.optimizer.variables]:
        replicas = [np.asarray(r) for r in strategy.experimental_local_results(v.value)]
        assert len(replicas) == 2, len(replicas)
        spread = max(spread, *(float(np.max(np.abs(r - replicas[0]))) for r in replicas))
    single, single_losses = train(tf.distribute.get_strategy())
    difference = max(
        float(np.max(np.abs(np.asarray(a.value) - np.asarray(b.value))))
        for a, b in zip(model.trainable_variables, single.trainable_variables)
    )
    json.dump(
        {
            "replicas": strategy.num_replicas_in_sync,
            "losses": [float(v) for v in losses],
            "single_losses": [float(v) for v in single_losses],
            "spread": spread,
            "difference": difference,
            "iterations": int(np.asarray(model.optimizer.iterations.value)),
            "lookahead_count": int(np.asarray(model.optimizer.lookahead_count.value))
            if hasattr(model.optimizer, "lookahead_count")
            else None,
        },
        sys.stdout,
    )
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["RAdam", "Ranger"])
def test_mirrored_strategy_trains_and_replicas_agree(tmp_path: Path, optimizer: str) -> None:
    """Every variable (Ranger's slow weights and count included) agrees across replicas."""
    script = tmp_path / "mirrored.py"
    script.write_text(SCRIPT)
    env = {
        **os.environ,
        "KERAS_BACKEND": "tensorflow",
        "CUDA_VISIBLE_DEVICES": "",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(script), optimizer],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["iterations"] == 4 * 256 // 32
    if optimizer == "Ranger":
        assert result["lookahead_count"] == result["iterations"] % 3
    losses = result["losses"]
    assert losses[-1] < 0.5 * losses[0], losses
    assert result["spread"] == 0.0, result  # mirrored: every replica holds the same value
    # The global batch's mean gradient is the single-device one: same training, to float32.
    assert result["difference"] < 1e-4, result

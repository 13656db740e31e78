"""radam_keras.RAdam and Ranger distributed: tf.distribute on TensorFlow, keras.distribution on JAX.

- TensorFlow: ``tf.distribute.MirroredStrategy`` over two logical CPU devices.
- JAX: ``keras.distribution.DataParallel`` over 8 host devices, and ``ModelParallel`` over a
  2 x 4 mesh whose layout shards the hidden layers' kernels and biases.

Devices must be configured before the framework runs any op, which the other tests of the
session already did, so each training runs in a fresh interpreter and reports JSON back.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.script_runner import run_json_script

keras = pytest.importorskip("keras")
BACKEND = keras.backend.backend()

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
@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute is TensorFlow's")
@pytest.mark.parametrize("optimizer", ["RAdam", "Ranger"])
def test_mirrored_strategy_trains_and_replicas_agree(tmp_path: Path, optimizer: str) -> None:
    """Every variable (Ranger's slow weights and count included) agrees across replicas."""
    result = run_json_script(
        SCRIPT,
        [optimizer],
        {"KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"},
        tmp_path,
    )
    assert result["replicas"] == 2
    assert result["iterations"] == 4 * 256 // 32
    if optimizer == "Ranger":
        assert result["lookahead_count"] == result["iterations"] % 3
    losses = result["losses"]
    assert losses[-1] < 0.5 * losses[0], losses
    assert result["spread"] == 0.0, result  # mirrored: every replica holds the same value
    # The global batch's mean gradient is the single-device one: same training, to float32.
    assert result["difference"] < 1e-4, result


JAX_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    from radam_keras import RAdam, Ranger

    (kind,) = sys.argv[1:]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1)).astype("float32")).astype("float32")
    devices = keras.distribution.list_devices("cpu")
    if kind == "DataParallel":
        mesh = keras.distribution.DeviceMesh((8,), ["batch"], devices)
        distribution = keras.distribution.DataParallel(device_mesh=mesh)
    else:
        mesh = keras.distribution.DeviceMesh((2, 4), ["batch", "model"], devices)
        layout = keras.distribution.LayoutMap(mesh)
        layout[".*hidden/kernel"] = (None, "model")
        layout[".*hidden/bias"] = ("model",)
        layout[".*projection/kernel"] = ("model", None)
        distribution = keras.distribution.ModelParallel(layout_map=layout, batch_dim_name="batch")

    def train(scope, optimizer):
        keras.utils.set_random_seed(0)
        with scope:
            model = keras.Sequential([
                keras.Input((8,)),
                keras.layers.Dense(16, activation="tanh", name="hidden"),
                keras.layers.Dense(8, name="projection"),
                keras.layers.Dense(1, name="out"),
            ])
            model.compile(
                optimizer=RAdam(learning_rate=0.05)
                if optimizer == "RAdam"
                else Ranger(learning_rate=0.1, k=3),
                loss="mse",
            )
        history = model.fit(x, y, batch_size=32, epochs=3, verbose=0, shuffle=False)
        return model, history.history["loss"]

    class NoScope:
        def __enter__(self):
            return None
        def __exit__(self, *exception):
            return False

    def run(optimizer):
        model, losses = train(distribution.scope(), optimizer)
        single, single_losses = train(NoScope(), optimizer)
        specs = {v.path: v.value.sharding.spec for v in model.trainable_variables}
        # Each optimizer variable made for a model variable, against that variable's layout.
        slots = [
            (str(v.value.sharding.spec), str(specs[p.path]))
            for v in model.optimizer.variables
            for p in model.trainable_variables
            if v.path.endswith(p.path.replace("/", "_") + "_" + v.path.rsplit("_", 1)[-1])
        ]
        return {
            "specs": {path: str(spec) for path, spec in specs.items()},
            "variable_devices": sorted(
                {len(v.value.sharding.device_set) for v in model.trainable_variables}
            ),
            "slots": slots,
            "losses": [float(v) for v in losses],
            "single_losses": [float(v) for v in single_losses],
            "difference": max(
                float(np.max(np.abs(np.asarray(a.value) - np.asarray(b.value))))
                for a, b in zip(model.trainable_variables, single.trainable_variables)
            ),
            "iterations": int(np.asarray(model.optimizer.iterations.value)),
        }

    json.dump(
        {"devices": len(devices), "RAdam": run("RAdam"), "Ranger": run("Ranger")}, sys.stdout
    )
    """
)


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution runs on JAX")
@pytest.mark.parametrize("kind", ["DataParallel", "ModelParallel"])
def test_keras_distribution_on_jax_gives_the_single_device_trajectory(
    tmp_path: Path, kind: str
) -> None:
    """RAdam's moments and Ranger's slow weights take their variable's layout, and training
    matches one device: exactly with replicated variables, to float32 rounding when the
    layout splits the matrix products."""
    report = run_json_script(
        JAX_SCRIPT,
        [kind],
        {
            "KERAS_BACKEND": "jax",
            "JAX_PLATFORMS": "cpu",
            "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
            "TF_CPP_MIN_LOG_LEVEL": "3",
        },
        tmp_path,
    )
    assert report["devices"] == 8
    for optimizer, slots_per_variable in (("RAdam", 2), ("Ranger", 3)):
        result = report[optimizer]
        assert result["variable_devices"] == [8]
        assert result["iterations"] == 3 * 256 // 32
        slots = result["slots"]
        assert len(slots) == 6 * slots_per_variable  # m, v (and slow weights) of 6 variables
        assert all(slot == variable for slot, variable in slots), slots
        specs = result["specs"]
        if kind == "ModelParallel":
            sharded = {path.split("/", 1)[1]: spec for path, spec in specs.items()}
            assert sharded["hidden/kernel"] == "P(None, 'model')"
            assert sharded["projection/kernel"] == "P('model',)"
            assert result["difference"] < 1e-6, result
        else:
            assert set(specs.values()) <= {"P()", "P(None, None)"}
            assert result["difference"] == 0.0, result
            assert result["losses"] == result["single_losses"]

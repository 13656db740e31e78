"""Smoke tests of the benchmark harness (``python -m benchmarks --quick``)."""

import dataclasses
import json
import math
import statistics
import time

import numpy as np
import pytest

from benchmarks import device, harness, worker
from benchmarks.bandwidth import Triad
from benchmarks.problems import QUICK_PROBLEMS
from benchmarks.registry import DEVICE_VARIABLE, Benchmarked, implementations
from benchmarks.targets import TARGETS, evaluate
from catalogue import naive
from catalogue.implementation import BenchmarkRow, Implementation


class FakeStepper:
    """A stepper whose ``step`` is ``on_step(params)``, on the parameters as given."""

    def __init__(self, params, on_step):
        self._params, self._on_step = params, on_step

    def set_gradients(self, grads):
        pass

    def step(self):
        self._on_step(self._params)

    def params(self):
        return [p.copy() for p in self._params]


def _benchmarked(name, on_step):
    """A benchmarked implementation stepping ``on_step`` on copies of its parameters."""

    def build(setup):
        return FakeStepper([p.copy() for p in setup.initial_params], on_step)

    return Benchmarked(Implementation(build, "numpy"), BenchmarkRow(name, "a test's own"))


@pytest.mark.parametrize(
    ("session", "problems"),  # each backend's session, with the implementations it has
    [
        ("numpy", ("large", "many-small")),
        # One problem each (one worker process per implementation and problem): the one of
        # many tensors, which the multi-tensor paths take.
        pytest.param("torch", ("many-small",), marks=pytest.mark.backend("torch")),
        pytest.param("jax", ("many-small",), marks=pytest.mark.backend("jax")),
    ],
)
def test_quick_run_writes_consistent_json(session, problems, tmp_path, capsys):
    path = tmp_path / "out" / "bench.json"
    problem = "all" if len(problems) == 2 else problems[0]
    assert harness.main(["--quick", "--problem", problem, "--json", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "targets" in printed

    document = json.loads(path.read_text())
    assert document["machine"]["cpu_count"] >= 1
    assert document["machine"]["numpy"] == np.__version__
    bandwidth = document["bandwidth"]
    assert bandwidth["bytes_per_second"] > 0
    # One triad run before each implementation on each problem.
    assert bandwidth["runs"] == len(problems) * len(implementations())
    assert bandwidth["method"]
    assert math.isclose(
        bandwidth["bytes_per_second"], 12 * bandwidth["elements"] / bandwidth["median_seconds"]
    )

    names = [impl.name for impl in implementations()]
    results = document["results"]
    assert {r["problem"] for r in results} == set(problems)
    for problem in problems:
        rows = {r["implementation"]: r for r in results if r["problem"] == problem}
        assert sorted(rows) == sorted(names)
        t_naive = rows[naive.NAME]["median_s"]
        for row in rows.values():
            times = row["times_s"]
            assert len(times) == document["settings"]["repeats"] == 2
            assert all(math.isfinite(t) and t > 0 for t in times)
            assert row["min_s"] == min(times)
            assert row["median_s"] > 0
            assert math.isclose(row["speedup_vs_naive"], t_naive / row["median_s"])
            achieved = 28 * row["n_params"] / row["median_s"]
            assert math.isclose(row["bytes_per_second"], achieved)
            assert math.isclose(row["bandwidth_fraction"], achieved / bandwidth["bytes_per_second"])
            assert row["first_step_s"] > 0
            assert math.isclose(row["first_step_excess_s"], row["first_step_s"] - row["median_s"])
            assert row["peak_extra_bytes"] >= 0
            assert math.isclose(
                row["memory_fraction"], row["peak_extra_bytes"] / (4 * row["n_params"])
            )

    targets = document["targets"]
    assert len(targets) == len(TARGETS)
    for target in targets:
        ran = {target["implementation"], target["reference"] or target["implementation"]}
        if ran <= set(names) and target["problem"] in problems:
            assert target["status"] in {"PASS", "FAIL"}
            assert math.isfinite(target["value"])
            # Every time ratio whose two implementations ran is measured paired.
            assert target["paired"] == (target["metric"] == "time_ratio")
        else:
            assert target["status"] == "NOT RUN"
            assert target["value"] is None


def test_only_keeps_the_reference(tmp_path):
    path = tmp_path / "bench.json"
    harness.main(
        ["--quick", "--only", "radam_numpy.RAdam", "--triad", "numpy", "--json", str(path)]
    )
    document = json.loads(path.read_text())
    assert [r["implementation"] for r in document["results"]] == [
        naive.NAME,
        "radam_numpy.RAdam",
    ]
    assert document["bandwidth"]["method"].startswith("np.add")


def test_a_step_that_changes_nothing_is_an_error():
    with pytest.raises(RuntimeError, match="did not change"):
        worker.run(_benchmarked("idle", lambda params: None), QUICK_PROBLEMS["large"], 1)


def test_a_timed_step_takes_the_rows_steps_per_timing():
    """A Lookahead row's timed step is a whole k-cycle: ``steps_per_timing`` steps."""
    calls = []
    implementation = _benchmarked("cycle", lambda params: calls.append(params[0].sum()))
    cycle = dataclasses.replace(
        implementation, row=dataclasses.replace(implementation.row, steps_per_timing=3)
    )
    params, grads = QUICK_PROBLEMS["large"].arrays()
    with worker.started(cycle, params, grads) as (timed_step, _):
        timed_step()
        assert len(calls) == 3
        timed_step()
    assert len(calls) == 6


def test_a_failing_worker_is_reported():
    with pytest.raises(RuntimeError, match="nonexistent on large failed"):
        worker.measure("nonexistent", QUICK_PROBLEMS["large"], 1, quick=True)


def test_a_pair_alternates_its_steps_and_times_each():
    calls = []

    def make(name, seconds):
        def step(params):
            calls.append(name)
            time.sleep(seconds)
            for p in params:
                p += 1.0

        return _benchmarked(name, step)

    times, reference_times = worker.run_pair(
        make("a", 0.004), make("b", 0.001), QUICK_PROBLEMS["large"], 3
    )
    warmup = 1 + worker.WARMUP_STEPS
    assert calls == ["a"] * warmup + ["b"] * warmup + ["a", "b", "b", "a", "a", "b"]
    assert len(times) == len(reference_times) == 3
    assert min(times) >= 0.004
    assert statistics.median(reference_times) < min(times)


def test_a_paired_ratio_is_the_median_of_its_rounds(monkeypatch):
    """Each round's two steps share a bandwidth regime: the ratio is taken round by round."""
    target = next(t for t in TARGETS if t.metric == "time_ratio" and t.problem == "large")
    times, reference_times = (1.0, 2.0, 9.0), (2.0, 1.0, 3.0)  # rounds: 0.5, 2, 3
    monkeypatch.setattr(harness, "measure_pair", lambda *args, **kwargs: (times, reference_times))
    measured = dict.fromkeys((target.implementation, target.reference))
    ratios = harness.time_pairs(QUICK_PROBLEMS["large"], measured, 3, quick=True)
    assert ratios[(target.implementation, target.reference, "large")] == 2.0


def test_a_paired_ratio_decides_a_time_target():
    target = next(t for t in TARGETS if t.metric == "time_ratio")
    metrics = {
        (target.implementation, target.problem): {"median_s": 1.0},
        (target.reference, target.problem): {"median_s": 1.0},
    }
    key = (target.implementation, target.reference, target.problem)
    separate = evaluate([target], metrics)[0]
    paired = evaluate([target], metrics, {key: target.bound * 2})[0]
    assert (separate.value, separate.paired) == (1.0, False)
    assert (paired.value, paired.status, paired.paired) == (target.bound * 2, "FAIL", True)


def test_a_failing_pair_is_reported():
    with pytest.raises(RuntimeError, match="nonexistent with naive-numpy on large failed"):
        worker.measure_pair("nonexistent", naive.NAME, QUICK_PROBLEMS["large"], 1, quick=True)


def test_targets_of_implementations_not_run():
    outcomes = evaluate(TARGETS, {})
    assert [o.status for o in outcomes] == ["NOT RUN"] * len(TARGETS)
    assert all(o.value is None for o in outcomes)


@pytest.mark.parametrize(
    "method", ["numpy", pytest.param("torch", marks=pytest.mark.backend("torch"))]
)
def test_triad_methods(method):
    if method == "torch":
        pytest.importorskip("torch")
    with Triad(1 << 16, method) as triad:
        for _ in range(3):
            triad.run()
        measured = triad.bandwidth()
    assert measured.runs == 3
    assert measured.median_seconds == statistics.median(triad.times) > 0
    assert measured.bytes_per_second == 12 * (1 << 16) / measured.median_seconds
    assert measured.best_bytes_per_second == 12 * (1 << 16) / min(triad.times)
    assert measured.threads >= 1


def test_triad_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        Triad(16, "fortran")


@pytest.mark.backend("torch")
def test_naive_step_is_torch_radam():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    shapes = [(3, 4), (5,)]
    params = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
    reference = [torch.tensor(p, requires_grad=True) for p in params]
    torch_opt = torch.optim.RAdam(reference)
    opt = naive.NaiveRAdam([p.copy() for p in params])
    for _ in range(8):  # 5 steps below torch's threshold, then rectified steps
        grads = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
        opt.step(grads)
        for tensor, g in zip(reference, grads, strict=True):
            tensor.grad = torch.from_numpy(g)
        torch_opt.step()
    for ours, theirs in zip(opt.params, reference, strict=True):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.backend("torch")
def test_device_run_on_the_cpu_writes_consistent_json(tmp_path, capsys, monkeypatch):
    """``--device cpu`` runs the accelerator benchmark's code on the CPU: every target's
    pair is timed paired (or says why not), with ratios and bandwidth fractions that
    follow from its times."""
    pytest.importorskip("torch")
    monkeypatch.delenv(DEVICE_VARIABLE, raising=False)
    rounds: list[tuple[tuple[float, ...], tuple[float, ...]]] = []
    original = device.measure_pair

    def recording(*args, **kwargs):
        rounds.append(original(*args, **kwargs))
        return rounds[-1]

    monkeypatch.setattr(device, "measure_pair", recording)
    path = tmp_path / "device.json"
    assert (
        harness.main(["--device", "cpu", "--quick", "--problem", "all", "--json", str(path)]) == 0
    )
    assert "device cpu" in capsys.readouterr().out

    document = json.loads(path.read_text())
    bandwidth = document["device"]["triad_bytes_per_second"]
    assert bandwidth > 0
    pairs = document["pairs"]
    assert len(pairs) == len(device.DEVICE_TARGETS)
    ran = [pair for pair in pairs if pair["ratio"] is not None]
    assert {(p["implementation"], p["reference"]) for p in ran} >= {
        (device.RADAM_TORCH, device.FUSED_ADAM),
        (device.RADAM_TORCH, device.TORCH_RADAM),
    }
    assert len(rounds) == len(ran)
    for pair, (times, reference_times) in zip(ran, rounds, strict=True):
        assert len(times) == len(reference_times) == document["settings"]["repeats"] == 2
        ratios = [a / b for a, b in zip(times, reference_times, strict=True)]
        assert math.isclose(pair["ratio"], statistics.median(ratios))
        assert pair["status"] == ("PASS" if pair["ratio"] <= pair["bound"] else "FAIL")
        assert math.isclose(pair["median_s"], statistics.median(times))
        achieved = 28 * pair["n_params"] / pair["median_s"]
        assert math.isclose(pair["bandwidth_fraction"], achieved / bandwidth)
    for pair in pairs:
        if pair["ratio"] is None:
            assert pair["status"] == "NOT RUN"
            assert pair["note"]


@pytest.mark.backend("torch")
@pytest.mark.parametrize("name", ["cuda", "not-a-device"])
def test_device_run_without_the_device_says_why(name, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if name == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    path = tmp_path / "device.json"
    assert harness.main(["--device", name, "--quick", "--json", str(path)]) == 2
    printed = capsys.readouterr().out
    assert printed.startswith(f"python -m benchmarks --device {name}: ")
    assert "is_available() is False" in printed or "is not a torch device" in printed
    assert not path.exists()

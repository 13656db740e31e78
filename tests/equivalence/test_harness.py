"""The harness itself: it finds what it must find, and says what it could not run.

- A trajectory perturbed at one step and element fails, naming the implementation, the
  configuration, the step, the parameter and the element (float64 and float32).
- The float32 bound has teeth: a float32 RAdam that computes rho_t the textbook way in
  float32 (whose cancellation puts rho_5 at 4.98645, not 4.99600) fails it, and so does a
  learning rate off by 1e-5 relative, while the oracle's own float32 arithmetic (float64
  step scalars) passes it on every problem and configuration. With Lookahead, a slow step
  size off by 1e-5 relative fails it at the first sync, and so does a sync one step late.
- The oracle's Lookahead is the paper's rule, on numbers worked out by hand.
- The authors' peer, switched to SGD below the threshold, is the oracle's "authors"
  preset with ``below_threshold="sgd"``.
- A missing package gives SKIP rows that say so; a crashed worker gives FAIL rows that
  say so; ``--device cuda`` without a CUDA device exits 3 with a message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from catalogue.authors import AuthorsRAdam
from catalogue.implementation import EquivalenceRows, Implementation, is_installed
from catalogue.stepper import Setup
from tests import oracle
from tests.equivalence import __main__ as cli
from tests.equivalence import harness
from tests.equivalence.configs import CONFIGS, CONFIGS_BY_NAME, GROUPS, configs_in
from tests.equivalence.problems import PROBLEMS
from tests.equivalence.reference import OracleLookahead
from tests.equivalence.registry import FAMILIES, PlannedRow, RowFamily, planned_rows
from tests.equivalence.report import format_report
from tests.equivalence.results import FAIL, PASS, SKIP, RowResult
from tests.equivalence.runner import run_config, run_row
from tests.equivalence.worker import cannot_run

REPO_ROOT = Path(__file__).resolve().parents[2]
NUMPY_CORE_64, NUMPY_CORE_32 = (f for f in FAMILIES if f.name == "radam_core.step numpy")


def _family(name: str, dtype: str, build: Any, **fields: Any) -> RowFamily:
    """A row family of a test's own implementation, run in the numpy worker."""
    rows = EquivalenceRows(name, (dtype,))
    return RowFamily(Implementation(build, "numpy", equivalence=rows, **fields), dtype)


class PerturbedStepper:
    """Wraps a stepper: from step ``at`` on, parameter ``index`` reads off at ``element``."""

    def __init__(self, inner: Any, at: int, index: int, element: tuple[int, ...], rel: float):
        self.inner, self.at, self.index, self.element, self.rel = inner, at, index, element, rel
        self.t = 0
        self.offset = 0.0

    def params(self) -> list[np.ndarray]:
        params = self.inner.params()
        params[self.index][self.element] += self.offset
        return params

    def set_gradients(self, grads: list[np.ndarray]) -> None:
        self.inner.set_gradients(grads)

    def step(self) -> None:
        self.inner.step()
        self.t += 1
        if self.t == self.at:
            value = self.inner.params()[self.index][self.element]
            self.offset = self.rel * max(abs(float(value)), 1.0)


def _perturbed(base: RowFamily, **where: Any) -> RowFamily:
    return _family(
        f"perturbed {base.name}",
        base.dtype,
        lambda setup: PerturbedStepper(base.implementation.build(setup), **where),
    )


@pytest.mark.parametrize(
    ("base", "rel"), [(NUMPY_CORE_64, 1e-9), (NUMPY_CORE_32, 1e-4)], ids=["float64", "float32"]
)
def test_a_perturbed_trajectory_fails_where_it_was_perturbed(base: RowFamily, rel: float) -> None:
    implementation = _perturbed(base, at=37, index=1, element=(2,), rel=rel)
    row = run_row(implementation, PROBLEMS["mlp"], "presets", "cpu", quick=True)
    assert row.status == FAIL
    assert row.implementation == f"perturbed {base.name}"
    assert row.reason.startswith(
        "config torch: diverged at step 37, parameter 1 (shape (16,)) element (2,)"
    )
    violation = row.outcomes[0].violation
    assert violation is not None
    assert (violation.step, violation.parameter, violation.element) == (37, 1, (2,))
    # The unperturbed implementation passes the same row.
    assert run_row(base, PROBLEMS["mlp"], "presets", "cpu", quick=True).status == PASS


def test_a_perturbed_0d_parameter_is_named_too() -> None:
    implementation = _perturbed(NUMPY_CORE_64, at=5, index=2, element=(), rel=1e-10)
    outcome = run_config(implementation, PROBLEMS["quadratic"], CONFIGS[0], "cpu", 10)
    assert outcome.violation is not None
    assert (outcome.violation.step, outcome.violation.parameter) == (5, 2)
    assert outcome.violation.element == ()
    assert "element ()" in outcome.violation.describe()


def test_an_exception_is_a_failure_that_quotes_it() -> None:
    def build(setup: Setup) -> Any:
        raise RuntimeError("no such kernel")

    implementation = _family("broken", "float64", build)
    row = run_row(implementation, PROBLEMS["rosenbrock"], "amsgrad", "cpu", quick=True)
    assert row.status == FAIL
    assert "RuntimeError: no such kernel" in row.reason


class HeldGradients:
    """The test steppers' ``set_gradients``: ``step`` takes ``self.grads``."""

    grads: list[np.ndarray]

    def set_gradients(self, grads: list[np.ndarray]) -> None:
        self.grads = grads


class TextbookFloat32RAdam(HeldGradients):
    """torch's convention entirely in float32, rho_t by the textbook formula."""

    def __init__(self, setup: Setup) -> None:
        f32 = np.float32
        hp = setup.hyperparameters
        self.lr, self.eps = f32(hp["lr"]), f32(hp["eps"])
        self.b1, self.b2 = (f32(b) for b in hp["betas"])
        self.params_: list[np.ndarray] = [np.array(p, dtype=f32) for p in setup.initial_params]
        self.m: list[np.ndarray] = [np.zeros_like(p) for p in self.params_]
        self.v: list[np.ndarray] = [np.zeros_like(p) for p in self.params_]
        self.t = 0

    def params(self) -> list[np.ndarray]:
        return [p.copy() for p in self.params_]

    def step(self) -> None:
        f32, grads = np.float32, self.grads
        one, two, four = f32(1), f32(2), f32(4)
        self.t += 1
        t = f32(self.t)
        b1t, b2t = self.b1**t, self.b2**t
        rho_inf = two / (one - self.b2) - one
        rho_t = rho_inf - two * t * b2t / (one - b2t)
        for i, g in enumerate(grads):
            self.m[i] = self.b1 * self.m[i] + (one - self.b1) * g
            self.v[i] = self.b2 * self.v[i] + (one - self.b2) * g * g
            m_hat = self.m[i] / (one - b1t)
            if rho_t > f32(5):
                r_t = np.sqrt(
                    (rho_t - four)
                    * (rho_t - two)
                    * rho_inf
                    / ((rho_inf - four) * (rho_inf - two) * rho_t)
                )
                scale = np.sqrt(one - b2t)
                update = self.lr * r_t * m_hat * scale / (np.sqrt(self.v[i]) + self.eps)
                self.params_[i] = (self.params_[i] - update).astype(f32)
            else:
                self.params_[i] = self.params_[i] - self.lr * m_hat


class OracleFloat32(HeldGradients):
    """The oracle's own arithmetic in float32 storage and compute (float64 scalars).

    With Lookahead, the reference's :class:`OracleLookahead` follows each step, in
    float32 too (``alpha`` rounded to float32), its slow step size scaled by
    ``1 + alpha_offset`` and its count ``late`` steps behind.
    """

    def __init__(self, setup: Setup, alpha_offset: float = 0.0, late: int = 0) -> None:
        self.hp = setup.hyperparameters
        self.params_ = [np.array(p, dtype=np.float32) for p in setup.initial_params]
        self.state = oracle.OracleState(self.params_, self.hp["amsgrad"])
        lookahead = setup.config.lookahead
        self.slow = None
        if lookahead is not None:
            alpha = lookahead.alpha * (1.0 + alpha_offset)
            self.slow = OracleLookahead(self.params_, lookahead.k, alpha)
        self.late = late

    def params(self) -> list[np.ndarray]:
        return [p.copy() for p in self.params_]

    def step(self) -> None:
        self.params_ = oracle.oracle_step(self.params_, self.grads, self.state, self.hp, np.float32)
        if self.state.t <= self.late:  # Lookahead misses the first steps
            return
        if self.slow is not None:
            self.params_ = self.slow.after_step(self.params_)


def test_float32_bound_fails_a_textbook_float32_rho() -> None:
    """rho_t in float32 is off by ~2e-3 at step 6 and ~1e-4 until step ~40 (beta2 = 0.999).

    On the MLP, whose updates are a sizeable fraction of its parameters, that is ~100x
    the bound. (On the quadratic, parameters ~1000x larger than their updates, the same
    error stays near the parameters' own float32 rounding.)
    """
    implementation = _family("textbook float32", "float32", TextbookFloat32RAdam)
    outcome = run_config(implementation, PROBLEMS["mlp"], CONFIGS_BY_NAME["torch"], "cpu", 100)
    assert outcome.violation is not None, outcome
    assert outcome.violation.step == 6  # the first rectified step, where r_t enters
    assert outcome.worst_ratio > 10


@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("group", GROUPS)
def test_float32_bound_passes_the_oracle_in_float32(problem: str, group: str) -> None:
    implementation = _family("oracle float32", "float32", OracleFloat32)
    row = run_row(implementation, PROBLEMS[problem], group, "cpu", quick=True)
    assert row.status == PASS, row.reason
    assert row.worst is not None
    assert row.worst.worst_ratio > 1e-3  # rounding is visible


class OracleFloat32ScaledLr(OracleFloat32):
    """The oracle in float32 with the learning rate scaled by ``1 + offset``."""

    def __init__(self, setup: Setup, offset: float) -> None:
        super().__init__(setup)
        self.hp = {**self.hp, "lr": self.hp["lr"] * (1.0 + offset)}


@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_float32_bound_resolves_a_1e_5_learning_rate_error(problem: str) -> None:
    def run(offset: float) -> Any:
        implementation = _family(
            f"lr x (1 + {offset})", "float32", lambda setup: OracleFloat32ScaledLr(setup, offset)
        )
        return run_config(implementation, PROBLEMS[problem], CONFIGS_BY_NAME["torch"], "cpu", 40)

    failing = run(1e-5)
    assert failing.violation is not None
    assert failing.violation.step == 1
    assert run(1e-6).passed


LOOKAHEAD_CONFIGS = [config.name for config in configs_in("lookahead")]


@pytest.mark.parametrize("config", LOOKAHEAD_CONFIGS)
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_float32_bound_resolves_a_1e_5_slow_step_size_error_and_a_late_sync(
    problem: str, config: str
) -> None:
    """The oracle's float32 arithmetic with Lookahead passes; with alpha off by 1e-5
    relative (either way) it fails at the first sync, and 1e-6 passes; syncing one step
    late fails at the step where the oracle synced and it did not."""

    def run(**error: Any) -> Any:
        implementation = _family(
            f"Lookahead {error}", "float32", lambda setup: OracleFloat32(setup, **error)
        )
        return run_config(implementation, PROBLEMS[problem], CONFIGS_BY_NAME[config], "cpu", 40)

    lookahead = CONFIGS_BY_NAME[config].lookahead
    assert lookahead is not None
    k = lookahead.k
    for offset in (1e-5, -1e-5):
        failing = run(alpha_offset=offset)
        assert failing.violation is not None
        assert failing.violation.step == k  # the first sync
    assert run(alpha_offset=1e-6).passed
    late = run(late=1)
    assert late.violation is not None
    assert late.violation.step == k  # the oracle synced, the late one did not
    assert late.worst_ratio > 1e3
    assert run().passed


def test_oracle_lookahead_is_the_papers_rule() -> None:
    """k = 2, alpha = 0.25 from phi_0 = theta_0 = 8, by hand.

    Step 1 (c = 1) keeps theta = 4; step 2 (c = 0) syncs: phi = 8 + (2 - 8) / 4 = 6.5 and
    theta = 6.5; step 3 keeps 10; step 4 syncs: phi = 6.5 + (-1.5 - 6.5) / 4 = 4.5.
    """
    lookahead = OracleLookahead([np.array([8.0])], k=2, alpha=0.25)
    fast_weights = [4.0, 2.0, 10.0, -1.5]
    got = [float(lookahead.after_step([np.array([theta])])[0][0]) for theta in fast_weights]
    assert got == [4.0, 6.5, 10.0, 4.5]
    assert float(lookahead.slow[0][0]) == 4.5


def test_authors_peer_with_sgd_below_threshold_is_the_oracles_variant() -> None:
    problem = PROBLEMS["rosenbrock"]
    config = CONFIGS_BY_NAME["authors-decay"]
    hp = config.hyperparameters(problem.lr)
    setup = Setup([np.array(p) for p in problem.initial_params], config, hp, "cpu")
    peer = AuthorsRAdam(setup.initial_params, setup.hyperparameters, degenerated_to_sgd=True)
    sgd_hp = {**hp, "below_threshold": "sgd"}
    params = [np.array(p) for p in problem.initial_params]
    state = oracle.OracleState(params, amsgrad=False)
    for _ in range(12):
        grads = problem.gradient(params)
        peer.step(grads)
        params = oracle.oracle_step(params, grads, state, sgd_hp)
    for got, want in zip(peer.params, params, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_a_missing_package_skips_with_the_reason() -> None:
    implementation = _family(
        "needs a package",
        "float64",
        NUMPY_CORE_64.implementation.build,
        requires=("no_such_package_x",),
    )
    assert cannot_run(implementation, "cpu") == (SKIP, "no_such_package_x not installed")
    assert cannot_run(NUMPY_CORE_64, "cpu") is None


def test_a_bare_namespace_directory_is_not_an_installed_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "namespace_only_pkg").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert not is_installed("namespace_only_pkg")
    assert is_installed("numpy")


def test_a_crashed_worker_fails_its_rows(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; print('boom: segfault'); sys.exit(7)"]
    log = tmp_path / "torch.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    process.wait()
    worker = harness.RunningWorker(
        "torch", process, tmp_path / "none.jsonl", log, time.perf_counter()
    )
    torch_core = next(row for row in planned_rows() if row.family.worker == "torch")
    rows = [PlannedRow(torch_core.family, "mlp", "amsgrad")]
    results: dict[str, RowResult] = {}
    ending = harness.collect(worker, rows, results, "cpu", 1.0)
    assert ending == "exited with code 7"
    (result,) = results.values()
    assert result.status == FAIL
    assert "worker torch exited with code 7" in result.reason
    assert "boom: segfault" in result.reason


def test_cuda_without_a_device_exits_3_with_a_message() -> None:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, "-m", "tests.equivalence", "--device", "cuda", "--quick"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == cli.EXIT_NO_CUDA == 3
    assert "no CUDA device" in done.stdout


def _fake_cuda_run(monkeypatch: pytest.MonkeyPatch, rows: list[RowResult]) -> dict[str, Any]:
    """``main`` with a CUDA device found (faked) and ``harness.run`` returning ``rows``."""
    monkeypatch.setattr(cli, "find_cuda_device", lambda: "a GPU")
    calls: dict[str, Any] = {}

    def fake_run(device: str, quick: bool, **kwargs: Any) -> list[RowResult]:
        calls.update(device=device, quick=quick)
        return rows

    monkeypatch.setattr(harness, "run", fake_run)
    return calls


def test_cuda_run_with_a_device_runs_the_cuda_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    passed = RowResult("x", "float64", "cuda", "mlp", "amsgrad", PASS, "1e-12")
    calls = _fake_cuda_run(monkeypatch, [passed])
    assert cli.main(["--device", "cuda", "--quick"]) == cli.EXIT_PASSED
    assert calls == {"device": "cuda", "quick": True}


def test_cuda_run_where_no_framework_uses_the_device_exits_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    skipped = RowResult("x", "float64", "cuda", "mlp", "amsgrad", SKIP, "1e-12", reason="no GPU")
    _fake_cuda_run(monkeypatch, [skipped])
    assert cli.main(["--device", "cuda"]) == cli.EXIT_NO_CUDA
    assert "no row could run on the CUDA device" in capsys.readouterr().out


def test_report_collapses_skipped_implementations_and_lists_configs_not_run() -> None:
    passed = run_row(NUMPY_CORE_64, PROBLEMS["rosenbrock"], "presets", "cpu", quick=True)
    authors = next(f for f in FAMILIES if f.name.startswith("peer: authors"))
    partial = run_row(authors, PROBLEMS["rosenbrock"], "presets", "cpu", quick=True)
    skipped = [
        RowResult("radam_missing", "float64", "cpu", p, g, SKIP, "1e-12", reason="x not installed")
        for p in PROBLEMS
        for g in GROUPS
    ]
    text = format_report([passed, partial, *skipped], "cpu", quick=True, seconds=1.0)
    assert f"x not installed (all {len(skipped)} rows)" in text
    assert "not run: torch, paper, optax, tfa" in text
    assert "the authors' class has one convention" in text
    assert f"{2 + len(skipped)} rows: 2 PASS, 0 FAIL, {len(skipped)} SKIP" in text


def test_results_round_trip_through_json() -> None:
    implementation = _perturbed(NUMPY_CORE_64, at=3, index=0, element=(1, 2), rel=1e-9)
    row = run_row(implementation, PROBLEMS["mlp"], "amsgrad", "cpu", quick=True)
    assert RowResult.from_json(json.loads(json.dumps(row.to_json()))) == row


def test_every_implementation_has_a_worker_and_a_unique_row_identity() -> None:
    from catalogue import IMPLEMENTATIONS
    from catalogue.workers import WORKERS

    assert {implementation.worker for implementation in IMPLEMENTATIONS} <= set(WORKERS)
    keys = [row.key for row in planned_rows()]
    assert len(keys) == len(set(keys))

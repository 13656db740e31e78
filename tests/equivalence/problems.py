"""The test problems: seeded, generated in code, gradients in float64 NumPy.

Each problem gives its initial parameters and a gradient function. The harness calls the
gradient function on an implementation's *current* parameters (converted to float64) at
every step, so that all implementations share the same gradient code and any difference
between their trajectories comes from the optimizer alone.

- ``quadratic``: ``f = 1/2 (x - c)^T A (x - c)`` over 18 numbers held in a (3, 4) matrix,
  a (5,) vector and a 0-d scalar; ``A = Q diag(lambda) Q^T`` with eigenvalues spaced
  logarithmically from 1e-2 to 1e2 (condition number 1e4) and a random rotation ``Q``;
  plus a separate (2,) parameter of curvature ~1e-7, whose gradients (~1e-7) make
  ``sqrt(v_t)`` comparable to eps, so that eps's placement and value matter.
- ``rosenbrock``: four independent 2-D Rosenbrock functions
  ``(1 - x)^2 + 100 (y - x^2)^2`` in a (4, 2) parameter, from four starting points.
- ``mlp``: a 4-16-1 tanh network fitted by mean squared error to 64 fixed samples of a
  fixed teacher function; the gradient is written out by hand (backpropagation).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

SEED = 1908_03265  # the paper's arXiv number

Params = list[np.ndarray]
GradientFn = Callable[[Sequence[np.ndarray]], Params]
LossFn = Callable[[Sequence[np.ndarray]], float]


@dataclasses.dataclass(frozen=True)
class Problem:
    """A seeded optimization problem.

    Attributes:
        name: Short name used in the report.
        description: One line for the report's legend.
        initial_params: The starting parameters, float64 arrays.
        loss: ``loss(params)``: the objective (for checking ``gradient``).
        gradient: ``gradient(params)``: float64 gradients at ``params`` (float64 arrays).
        lr: The learning rate every configuration uses on this problem: large enough that
            the parameters move far from their start within the run.
        steps: Steps of a full run.
        quick_steps: Steps of a ``--quick`` run.
    """

    name: str
    description: str
    initial_params: tuple[np.ndarray, ...]
    loss: LossFn
    gradient: GradientFn
    lr: float
    steps: int
    quick_steps: int

    def steps_for(self, quick: bool) -> int:
        """The number of steps of a full or a quick run."""
        return self.quick_steps if quick else self.steps


def _quadratic() -> Problem:
    rng = np.random.default_rng(SEED)
    shapes = [(3, 4), (5,), ()]
    sizes = [int(np.prod(s)) for s in shapes]
    n = sum(sizes)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    hessian = q @ np.diag(np.logspace(-2.0, 2.0, n)) @ q.T
    center = rng.uniform(-1.0, 1.0, size=n)
    splits = np.cumsum(sizes)[:-1]
    start = rng.uniform(-2.0, 2.0, size=n)
    # A separate pair with curvature ~1e-7: gradients ~1e-7, sqrt(v_t) comparable to eps,
    # so where eps goes (raw or bias-corrected sqrt(v_t)) and its value show, in float32 too.
    tiny_curvature = np.array([1e-7, 3e-7])
    tiny_center = np.array([0.5, -0.5])
    tiny_start = np.array([-1.0, 1.5])

    def split(x: np.ndarray) -> Params:
        return [part.reshape(s) for part, s in zip(np.split(x, splits), shapes, strict=True)]

    def loss(params: Sequence[np.ndarray]) -> float:
        d = np.concatenate([np.ravel(p) for p in params[:-1]]) - center
        tiny = tiny_curvature * (params[-1] - tiny_center) ** 2
        return float(0.5 * d @ hessian @ d + 0.5 * np.sum(tiny))

    def gradient(params: Sequence[np.ndarray]) -> Params:
        x = np.concatenate([np.ravel(p) for p in params[:-1]])
        tiny = tiny_curvature * (params[-1] - tiny_center)
        return [*split(hessian @ (x - center)), tiny]

    return Problem(
        "quadratic",
        "1/2 (x-c)^T A (x-c), cond(A) = 1e4, over a (3, 4), a (5,) and a 0-d tensor, "
        "plus a (2,) pair with curvature ~1e-7",
        (*split(start), tiny_start),
        loss,
        gradient,
        lr=0.03,
        steps=200,
        quick_steps=40,
    )


def _rosenbrock() -> Problem:
    start = np.array([[-1.0, 1.05], [0.0, 0.1], [0.6, 0.3], [-0.5, 0.3]])

    def loss(params: Sequence[np.ndarray]) -> float:
        x, y = params[0][:, 0], params[0][:, 1]
        return float(np.sum((1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2))

    def gradient(params: Sequence[np.ndarray]) -> Params:
        (p,) = params
        x, y = p[:, 0], p[:, 1]
        dx = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x)
        dy = 200.0 * (y - x * x)
        return [np.stack([dx, dy], axis=1)]

    return Problem(
        "rosenbrock",
        "four 2-D Rosenbrock functions (1-x)^2 + 100 (y-x^2)^2 in one (4, 2) tensor",
        (start,),
        loss,
        gradient,
        lr=0.005,
        steps=300,
        quick_steps=40,
    )


def _mlp() -> Problem:
    rng = np.random.default_rng(SEED + 1)
    inputs = rng.normal(size=(64, 4))
    targets = np.sin(inputs @ np.array([1.0, -2.0, 0.5, 1.5]))[:, None] + 0.1 * inputs[:, :1]
    hidden = 16
    initial = (
        rng.normal(scale=0.5, size=(4, hidden)),
        rng.normal(scale=0.1, size=hidden),
        rng.normal(scale=0.25, size=(hidden, 1)),
        np.zeros(1),
    )

    def loss(params: Sequence[np.ndarray]) -> float:
        w1, b1, w2, b2 = params
        return float(np.mean((np.tanh(inputs @ w1 + b1) @ w2 + b2 - targets) ** 2))

    def gradient(params: Sequence[np.ndarray]) -> Params:
        w1, b1, w2, b2 = params
        activation = np.tanh(inputs @ w1 + b1)
        residual = activation @ w2 + b2 - targets
        d_out = 2.0 * residual / len(inputs)  # d(mean squared error)/d(output)
        d_hidden = (d_out @ w2.T) * (1.0 - activation * activation)
        return [inputs.T @ d_hidden, d_hidden.sum(axis=0), activation.T @ d_out, d_out.sum(axis=0)]

    return Problem(
        "mlp",
        "4-16-1 tanh MLP, mean squared error on 64 fixed samples, hand-written backprop",
        initial,
        loss,
        gradient,
        lr=0.01,
        steps=1000,
        quick_steps=100,
    )


PROBLEMS: dict[str, Problem] = {p.name: p for p in (_quadratic(), _rosenbrock(), _mlp())}

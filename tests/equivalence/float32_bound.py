"""The float32 error bound: how far a correct float32 RAdam may be from the float64 oracle.

A float32 implementation and the float64 oracle are fed the same gradients (the float32
values the implementation received, see :mod:`tests.equivalence.reference`) from the same
float32 initial parameters. Their only difference is then float32 rounding inside the
optimizer, and this module bounds it by a first-order running error analysis (Wilkinson's
method: every rounded operation ``z = x op y`` adds at most ``u |z|`` to the propagated
errors of its inputs), carried along the oracle's formulas step by step, per element:

    g'  = g + wd theta                   e_g  = wd e_theta + w (|wd theta| + |g'|)
    m   = b1 m + (1 - b1) g'             e_m  = b1 e_m + (1 - b1) e_g
                                                + w (|b1 m_prev| + |(1 - b1) g'| + |m|)
    v   = b2 v + (1 - b2) g'^2           e_v  = b2 e_v + (1 - b2)(2 |g'| e_g + w g'^2)
                                                + w (|b2 v_prev| + |(1 - b2) g'^2| + |v|)
    vmax = max(vmax, v)                  e_vmax = max(e_vmax, e_v)
    m_hat = m / bc1 (or Nesterov's sum)  e_mh = e_m / bc1 + (w + c) |m_hat|
    q   = sqrt(s v + eps_root)           e_q  = min(e_in / 2q, sqrt(e_in)) + w q,
                                                e_in = s e_v + (w + c) |s v|
    d   = q + eps                        e_d  = e_q + w d
    step = a m_hat / d                   e_st = a e_mh / d + |step| e_d / d + (2w + c)|step|
    theta = (1 - lr wd) theta - step     e_theta = (1 - lr wd) e_theta + (w + c)|decayed|
                                                + e_st + w |theta|

with ``u = 2^-24`` (float32's unit roundoff), ``w = 2u`` per operation and ``c = 32u`` per
step scalar:

- ``w = 2u``: each operation above may be two in an implementation's own arrangement (a
  division done as a multiplication by a reciprocal, Keras's ``theta - theta wd lr``
  for ``theta (1 - lr wd)``, torch's fused Adam form with ``lr r_t`` and
  ``eps / sqrt(bc2)``), and each float64 constant (``b1``, ``1 - b2``, ...) is itself
  rounded to float32 once.
- ``c = 32u``: the relative error of a step scalar (``a = lr r_t sqrt(bc2) / bc1``,
  ``1 / bc1``, ``1 / bc2``) computed in float32, which is what radam_core does where the
  step count is a float32-only tensor (JAX without x64; Keras on JAX and torch): rho_t
  within a few u (cancellation-free), r_t's condition number in rho_t at most ~3 for
  rho_t >= 4.9, bias corrections by ``expm1`` within a u or two, and the float32
  learning rate: 3u x 3 + ~10u of products and square roots < 32u. The textbook
  float32 rho_t (its cancellation: rho_5 = 4.98645 instead of 4.99600 at
  beta2 = 0.999) puts r_t off by ~2e-3 at step 6 (~30,000u) and ~1e-4 until step ~40:
  on the MLP it exceeds the bound ~100-fold at step 6
  (``tests/equivalence/test_harness.py``).

With Lookahead, on every k-th step, after the RAdam step (phi_0 = theta_0 exactly, the
implementation's own initial values, so e_phi starts at 0; between syncs phi and e_phi
are those of the last sync):

    delta = theta - phi                  (its rounding reaches phi through alpha)
    phi = phi + alpha delta              e_phi = (1 - alpha) e_phi + alpha e_theta
                                                + w (alpha |delta| + |alpha delta| + |phi|)
    theta = phi                          e_theta = e_phi

The propagated part is exact to first order: an error of phi moves phi + alpha
(theta - phi) by (1 - alpha) of it, one of theta by alpha of it. The three rounded
operations (subtract, multiply, add) each add ``w`` times their result, the
subtraction's through the multiplication by alpha. ``w = 2u`` covers alpha's own
rounding to float32 and, as above, a second rounding in an implementation's
arrangement. One arrangement has a rounding the bound does not model: radam_optax moves
the parameters to the new phi by an update, ``p + (phi - p)`` with p the parameters
before the step; the addition's rounding of ``|phi|`` is the second ``u`` of the last
``w``, and the subtraction is exact where p and phi are within a factor 2 (Sterbenz's
lemma), that is everywhere but near zero, where it may add ``u |phi - p|``. Measured on
every problem, radam_optax's float32 rows peak at 0.34 of the bound on sync steps, as
radam_core's do.

The moment errors accumulate over the run (``e_v`` tends to ``~4w |v| / (1 - b2)``, the
worst case where every rounding has the same sign), so the bound grows linearly with the
step count and the update sizes: an implementation passes when, at every step and for
every element, ``|theta_impl - theta_oracle| <= e_theta``. Honest float32 rounding is
random and stays inside it: the largest ratio, ~0.43, comes at the first steps, where
the bound is a few roundings and one rounding of theta alone can take half of it (the
report's ``err/bound`` column shows it for every row); the oracle's own arithmetic in
float32 passes every problem and configuration. The bound is tight enough to matter:
the same float32 arithmetic with the learning rate off by 1e-5 relative fails it at
step 1 on every problem (1e-6 passes), and so does the textbook float32 rho_t above.
With Lookahead, a slow step size alpha off by 1e-5 relative fails it at the first sync
on every problem (1e-6 passes), and so does a sync one step late
(``tests/equivalence/test_harness.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tests.equivalence.configs import Lookahead

UNIT_ROUNDOFF = 2.0**-24
OPERATION_ROUNDOFFS = 2.0  # w, in units of u
COEFFICIENT_ROUNDOFFS = 32.0  # c, in units of u


class Float32ErrorBound:
    """The running bound ``e_theta`` of a float32 RAdam against the float64 oracle.

    Call :meth:`step` with each step's gradients (the ones the implementation got); it
    returns the bound on every parameter element after that step.

    Args:
        initial_params: The implementation's initial parameters (float32 values).
        hyperparameters: The full hyperparameter dict (``tests.oracle.resolve``).
        lookahead: Lookahead's ``k`` and ``alpha`` after every step, or None.
    """

    def __init__(
        self,
        initial_params: Sequence[np.ndarray],
        hyperparameters: dict[str, Any],
        lookahead: Lookahead | None = None,
    ):
        self.hp = hyperparameters
        self.lookahead = lookahead
        self.t = 0
        self.theta = [np.array(p, dtype=np.float64) for p in initial_params]
        zeros = [np.zeros_like(p) for p in self.theta]
        self.m, self.v, self.vmax = list(zeros), list(zeros), list(zeros)
        self.e_theta, self.e_m, self.e_v, self.e_vmax = (list(zeros) for _ in range(4))
        # Lookahead: phi and its error as of the last sync (phi_0 = theta_0, exactly).
        self.count = 0
        self.phi = [p.copy() for p in self.theta]
        self.e_phi = list(zeros)

    def step(self, gradients: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Advance one step with ``gradients``; return the bound on each parameter."""
        self.t += 1
        for index, gradient in enumerate(gradients):
            self._step_leaf(index, np.asarray(gradient, dtype=np.float64))
        if self.lookahead is not None:
            self.count = (self.count + 1) % self.lookahead.k
            if self.count == 0:
                for index in range(len(self.theta)):
                    self._sync_leaf(index, self.lookahead.alpha)
        return [e.copy() for e in self.e_theta]

    def _sync_leaf(self, i: int, alpha: float) -> None:
        """Lookahead's sync of parameter ``i``: ``phi <- phi + alpha (theta - phi)``."""
        w = OPERATION_ROUNDOFFS * UNIT_ROUNDOFF
        theta, phi = self.theta[i], self.phi[i]
        delta = theta - phi
        phi_new = phi + alpha * delta
        e_phi_new = (
            (1.0 - alpha) * self.e_phi[i]
            + alpha * self.e_theta[i]
            + w * (alpha * np.abs(delta) + np.abs(alpha * delta) + np.abs(phi_new))
        )
        self.phi[i], self.e_phi[i] = phi_new, e_phi_new
        self.theta[i], self.e_theta[i] = phi_new.copy(), e_phi_new.copy()

    def _scalars(self) -> dict[str, Any]:
        """This step's scalars, from the formulas in float64."""
        hp, t = self.hp, self.t
        b1, b2 = hp["betas"]
        bc1, bc2 = 1.0 - b1**t, 1.0 - b2**t
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho_t = rho_inf - 2.0 * t * b2**t / bc2
        threshold = hp["threshold"]
        rectified = rho_t >= threshold if hp["threshold_inclusive"] else rho_t > threshold
        r_t = (
            math.sqrt(
                (rho_t - 4.0)
                * (rho_t - 2.0)
                * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
            )
            if rectified
            else 0.0
        )
        return {
            "b1": b1,
            "b2": b2,
            "bc1": bc1,
            "bc2": bc2,
            "rectified": rectified,
            "r_t": r_t,
            "updating": rectified or hp["below_threshold"] == "sgd",
            "nesterov_m": b1 / (1.0 - b1 ** (t + 1)),
        }

    def _step_leaf(self, i: int, g: np.ndarray) -> None:
        hp, s = self.hp, self._scalars()
        w = OPERATION_ROUNDOFFS * UNIT_ROUNDOFF
        c = COEFFICIENT_ROUNDOFFS * UNIT_ROUNDOFF
        b1, b2, bc1, bc2 = s["b1"], s["b2"], s["bc1"], s["bc2"]
        lr, wd = float(hp["lr"]), float(hp["weight_decay"])
        theta, e_theta = self.theta[i], self.e_theta[i]

        # L2 weight decay joins the gradient.
        if wd != 0.0 and not hp["decoupled_weight_decay"]:
            gp = g + wd * theta
            e_g = wd * e_theta + w * (np.abs(wd * theta) + np.abs(gp))
        else:
            gp, e_g = g, np.zeros_like(g)

        # Moments.
        m_prev, v_prev = self.m[i], self.v[i]
        m = b1 * m_prev + (1.0 - b1) * gp
        e_m = (
            b1 * self.e_m[i]
            + (1.0 - b1) * e_g
            + w * (np.abs(b1 * m_prev) + np.abs((1.0 - b1) * gp) + np.abs(m))
        )
        g2 = gp * gp
        v = b2 * v_prev + (1.0 - b2) * g2
        e_v = (
            b2 * self.e_v[i]
            + (1.0 - b2) * (2.0 * np.abs(gp) * e_g + w * g2)
            + w * (b2 * v_prev + (1.0 - b2) * g2 + v)
        )
        self.m[i], self.e_m[i], self.v[i], self.e_v[i] = m, e_m, v, e_v
        v_den, e_den = v, e_v
        if hp["amsgrad"]:
            self.vmax[i] = v_den = np.maximum(self.vmax[i], v)
            self.e_vmax[i] = e_den = np.maximum(self.e_vmax[i], e_v)

        # Bias-corrected (or Nesterov) first moment.
        if hp["nesterov"]:
            k1, k2 = s["nesterov_m"], (1.0 - b1) / bc1
            m_hat = k1 * m + k2 * gp
            e_mh = (
                k1 * e_m
                + k2 * e_g
                + (w + c) * (np.abs(k1 * m) + np.abs(k2 * gp))
                + w * np.abs(m_hat)
            )
        else:
            m_hat = m / bc1
            e_mh = e_m / bc1 + (w + c) * np.abs(m_hat)

        # Decoupled weight decay, on the steps that update.
        decayed, e_decayed = theta, e_theta
        if wd != 0.0 and hp["decoupled_weight_decay"] and s["updating"]:
            decayed = theta * (1.0 - lr * wd)
            e_decayed = (1.0 - lr * wd) * e_theta + (w + c) * np.abs(decayed)

        # The update.
        if s["rectified"]:
            scale = 1.0 if hp["eps_placement"] == "raw" else 1.0 / bc2
            inner = scale * v_den + hp["eps_root"]
            e_inner = scale * e_den + (w + (c if scale != 1.0 else 0.0)) * np.abs(scale * v_den)
            if hp["eps_root"]:
                e_inner = e_inner + w * np.abs(inner)
            q = np.sqrt(inner)
            with np.errstate(divide="ignore", invalid="ignore"):
                linear = np.where(q > 0.0, e_inner / (2.0 * q), np.inf)
            e_q = np.minimum(linear, np.sqrt(e_inner)) + w * q
            denominator = q + hp["eps"]
            e_denominator = e_q + w * denominator
            a = lr * s["r_t"] * (math.sqrt(bc2) if hp["eps_placement"] == "raw" else 1.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                update = np.where(denominator > 0.0, a * m_hat / denominator, 0.0)
                e_update = np.where(
                    denominator > 0.0,
                    a * e_mh / denominator + np.abs(update) * e_denominator / denominator,
                    0.0,
                ) + (2.0 * w + c) * np.abs(update)
        elif hp["below_threshold"] == "sgd":
            update = lr * m_hat
            e_update = lr * e_mh + (w + c) * np.abs(update)
        else:
            update, e_update = np.zeros_like(theta), np.zeros_like(theta)

        self.theta[i] = decayed - update
        self.e_theta[i] = e_decayed + e_update + w * np.abs(self.theta[i])

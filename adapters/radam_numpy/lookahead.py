"""``Lookahead`` and ``Ranger`` for NumPy: slow weights around ``radam_numpy.RAdam``, in place.

The math is [`radam_core.lookahead`][radam_core.lookahead] (Zhang et al. 2019): after every inner
step ``c <- (c + 1) mod k``; when ``c == 0``, ``phi <- phi + alpha (theta - phi)`` and
``theta <- phi``. A sync is computed block by block and written back into the slow and the
fast arrays, so no step allocates a parameter-sized temporary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import array_api_compat.numpy as xp
import numpy as np

from radam_core import LookaheadPosition, Snapshot
from radam_core.for_adapters import advance_lookahead, check_lookahead, lookahead_leaf
from radam_numpy.optimizer import BLOCK_SIZE, RAdam, _names, native_slots, neutral_forms
from radam_numpy.threads import Block, share


class Lookahead:
    """Lookahead (Zhang et al. 2019) around a [`RAdam`][radam_numpy.RAdam]: ``opt.step(grads)``.

    The slow weights phi start as copies of the parameters (``phi_0 = theta_0``, one extra
    parameter-sized array each). Each [`step`][radam_numpy.lookahead.Lookahead.step] runs the inner
    step on the parameters (the fast weights theta), then
    [`radam_core.lookahead_step`][radam_core.lookahead_step]'s rule:

        c <- (c + 1) mod k;   if c == 0:  phi <- phi + alpha (theta - phi);  theta <- phi

    Example:
        >>> import numpy as np
        >>> from radam_numpy import RAdam
        >>> x = np.array([1.0, -2.0])
        >>> opt = Lookahead(RAdam([x], lr=0.1), k=5, alpha=0.5)
        >>> for _ in range(100):
        ...     opt.step([2 * x])

    Args:
        optimizer: The inner optimizer; its ``params`` are updated in place.
        k: The sync period, an int ``>= 1``.
        alpha: The slow step size, in ``[0, 1]``.

    Attributes:
        optimizer: The inner optimizer.
        k: The sync period.
        alpha: The slow step size.
        count: Inner steps since the last sync, in ``[0, k)``.
        slow: phi, one array per parameter.

    Raises:
        TypeError, ValueError: Invalid ``k`` or ``alpha`` (named with its value), or an
            inner optimizer without ``params`` and ``step``.
    """

    def __init__(self, optimizer: RAdam, k: int = 6, alpha: float = 0.5) -> None:
        check_lookahead(k, alpha)
        if not (hasattr(optimizer, "params") and callable(getattr(optimizer, "step", None))):
            raise TypeError(
                f"optimizer must have params and step(grads), got {type(optimizer).__name__}"
            )
        for index, param in enumerate(optimizer.params):
            if not (
                isinstance(param, np.ndarray) and param.flags.c_contiguous and param.flags.writeable
            ):
                raise ValueError(
                    f"optimizer.params[{index}] must be a writeable C-contiguous ndarray, "
                    "updated in place by the sync"
                )
        self.optimizer = optimizer
        self.k, self.alpha = int(k), float(alpha)
        self.count = 0
        self.slow = [np.array(p, copy=True, order="C") for p in optimizer.params]

    def __repr__(self) -> str:
        return f"Lookahead({self.optimizer!r}, k={self.k}, alpha={self.alpha}, count={self.count})"

    @property
    def params(self) -> list[np.ndarray]:
        """The inner optimizer's parameters (the fast weights), updated in place."""
        return list(self.optimizer.params)

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """One inner step with ``grads``, then Lookahead's count and, every k steps, a sync.

        All or nothing, as [`radam_numpy.RAdam.step`][radam_numpy.RAdam.step]: around a ``RAdam``, a
        sync step whose error state could raise checks the sync's arithmetic too (on each block's
        new parameters, in the inner step's check pass) before anything is written.

        Raises:
            TypeError, ValueError: As the inner optimizer's ``step``; nothing changes then.
            FloatingPointError: As the inner optimizer's ``step``, from its arithmetic or
                the sync's; nothing changes then.
        """
        count, sync = advance_lookahead(self.count, self.k)
        if not sync:
            self.optimizer.step(grads)
        elif isinstance(self.optimizer, RAdam):
            self._sync(self.optimizer._step(grads, also=[self.slow], follow=self._check_sync))
        else:
            self.optimizer.step(grads)
            self._sync({**np.geterr(), "call": np.geterrcall()})
        self.count = count

    def _check_sync(self, theta: np.ndarray, slow: tuple[np.ndarray, ...]) -> None:
        """The sync's arithmetic on one block's new theta, results discarded (a check)."""
        lookahead_leaf(theta, slow[0], self.alpha, xp)

    def _sync(self, errstate: dict[str, Any]) -> None:
        """``phi <- phi + alpha (theta - phi); theta <- phi`` in place, block by block.

        Runs under ``errstate`` in every thread (the inner step's: the caller's, or errors
        ignored once its check pass has checked them).

        The new phi is [`lookahead_leaf`][radam_core.for_adapters.lookahead_leaf]'s, computed in the
        fast weights' memory (``overwrite_fast``) and copied into the slow weights, so that no
        parameter-sized temporary is allocated; the blocks are shared among the inner
        optimizer's threads. Both lists hold C-contiguous arrays (parameters checked in
        ``__init__``, copies made here), whose flat views are written through.
        """
        block_size = getattr(self.optimizer, "block_size", BLOCK_SIZE)
        blocks: list[Block] = []
        for theta, phi in zip(self.optimizer.params, self.slow, strict=True):
            flat_theta, flat_phi = theta.reshape(-1), phi.reshape(-1)
            for start in range(0, max(theta.size, 1), block_size):
                stop = start + block_size
                blocks.append((flat_theta[start:stop], flat_phi[start:stop]))

        def sync(part: list[Block]) -> None:
            with np.errstate(**errstate):
                for f, s in part:
                    new = lookahead_leaf(f, s, self.alpha, xp, overwrite_fast=True)
                    if new is not s:
                        s[...] = new
                    if new is not f:
                        f[...] = new

        share(sync, blocks, getattr(self.optimizer, "threads", 1))

    def state_dict(self) -> dict[str, Any]:
        """A copy of the state, ready for pickle or ``np.savez``.

        Returns:
            ``optimizer`` (the inner ``state_dict()``), ``count`` (the step within the
            k-cycle), ``k``, ``alpha`` and ``slow`` (copies of phi).
        """
        return {
            "optimizer": self.optimizer.state_dict(),
            "count": self.count,
            "k": self.k,
            "alpha": self.alpha,
            "slow": [s.copy() for s in self.slow],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a [`state_dict`][radam_numpy.lookahead.Lookahead.state_dict]; all or nothing.

        On any mismatch raise and change nothing. ``k`` and ``alpha`` are restored too.
        """
        k, alpha = state_dict.get("k", self.k), state_dict.get("alpha", self.alpha)
        check_lookahead(k, alpha)
        count = state_dict["count"]
        if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count < 0:
            raise ValueError(f"count must be an int >= 0, got {count!r}")
        slow = [np.array(s, copy=True, order="C") for s in state_dict["slow"]]
        params = self.optimizer.params
        if len(slow) != len(params):
            raise ValueError(f"slow has {len(slow)} arrays, but params has {len(params)}")
        for index, (s, p) in enumerate(zip(slow, params, strict=True)):
            if s.shape != p.shape or s.dtype != p.dtype:
                raise ValueError(
                    f"slow[{index}] has shape {s.shape} and dtype {s.dtype}, "
                    f"expected {p.shape} and {p.dtype}"
                )
        self.optimizer.load_state_dict(state_dict["optimizer"])
        self.k, self.alpha, self.count, self.slow = int(k), float(alpha), int(count), slow

    def export_state(self, names: Sequence[str] | None = None) -> Snapshot:
        """The state as a framework-neutral [`Snapshot`][radam_core.snapshot.Snapshot] (copies).

        The inner [`RAdam`][radam_numpy.RAdam]'s snapshot, with phi for every parameter and
        Lookahead's k, alpha and count.

        Args:
            names: One name per parameter (default: ``"0"``, ``"1"``, ...).

        Returns:
            The snapshot.
        """
        inner = self.optimizer.export_state(names)
        slow = {name: s.copy() for name, s in zip(inner.parameters, self.slow, strict=True)}
        return inner.with_lookahead(LookaheadPosition(self.k, self.alpha, self.count), slow)

    def import_state(self, snapshot: Snapshot, names: Sequence[str] | None = None) -> None:
        """Resume from a Lookahead [`Snapshot`][radam_core.snapshot.Snapshot]; all or nothing.

        The inner optimizer's state, phi and the count come from the snapshot; k must be this
        optimizer's, and alpha stays this optimizer's.

        Args:
            snapshot: From any adapter's Lookahead (or Ranger) ``export_state``.
            names: One name per parameter, as in the snapshot (default: ``"0"``, ``"1"``, ...).

        Raises:
            ValueError: As [`RAdam.import_state`][radam_numpy.RAdam.import_state], or a
                snapshot without Lookahead's state or of another k; nothing changed.
        """
        keys = _names(names, len(self.slow))
        shapes, complex_names = neutral_forms(keys, self.params)
        hyperparameters = self.optimizer.hyperparameters
        snapshot.check(shapes, hyperparameters, k=self.k, complex_names=complex_names)
        self.optimizer.import_state(snapshot.inner(), names)
        self.count = snapshot.lookahead.count if snapshot.lookahead is not None else 0
        self.slow = [
            np.array(native_slots(snapshot.parameters[name])["slow"], order="C") for name in keys
        ]


class Ranger(Lookahead):
    """Ranger: Lookahead around RAdam, ``Ranger(params, k=6, alpha=0.5, **radam_options)``.

    Exactly ``Lookahead(RAdam(params, **radam_options), k, alpha)``: each step is a RAdam
    step ([`radam_core.step`][radam_core.step.step]), and every ``k`` steps
    ``phi <- phi + alpha (theta - phi); theta <- phi``.

    Args:
        params: The arrays to optimize (see [`radam_numpy.RAdam`][radam_numpy.RAdam]).
        k: The sync period, an int ``>= 1``.
        alpha: The slow step size, in ``[0, 1]``.
        **radam_options: [`radam_numpy.RAdam`][radam_numpy.RAdam]'s arguments (``lr``, ``preset``,
            ``betas``, ``block_size``, ...).
    """

    def __init__(
        self, params: Iterable[np.ndarray], k: int = 6, alpha: float = 0.5, **radam_options: Any
    ) -> None:
        check_lookahead(k, alpha)
        super().__init__(RAdam(params, **radam_options), k, alpha)


__all__ = ["Lookahead", "Ranger"]

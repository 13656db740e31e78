"""``RAdam`` for NumPy: updates a list of arrays in place, block by block.

The math is [`update_leaf_in_place`][radam_core.for_adapters.update_leaf_in_place], applied to
cache-sized slices of each parameter and its state, so that no step allocates a parameter-sized
temporary; the blocks are shared among threads by
[`radam_numpy.threads.share`][radam_numpy.threads.share].

All or nothing. A step that raises leaves ``params``, ``state`` and the count exactly as
they were. Everything that can be checked is checked before the first write (gradients,
shapes, dtypes, writeability, the count). What cannot be checked is a floating-point error
(an underflow, say) under ``np.errstate(all="raise")``: its only test is the arithmetic.
So when the caller's NumPy error state could raise (``"raise"``, ``"call"`` or ``"log"``
for a category, or ``"warn"`` while a warnings filter turns ``RuntimeWarning`` into an
error), the step first runs the same arithmetic on every block without writing
([`update_leaf`][radam_core.for_adapters.update_leaf], block-sized temporaries only) under the
caller's error state, in every thread; an error raises there, before anything is written. Then the
in-place pass runs with errors ignored: its operations are the same, in the same order,
so they have been reported already. That doubles a step's arithmetic, but only under such
an error state; under NumPy's default state (``"warn"``/``"ignore"``) there is one pass,
under the caller's error state (warnings are issued as usual), and no copy at all.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import array_api_compat.numpy as xp
import numpy as np

from radam_core import (
    Hyperparameters,
    ParameterState,
    Preset,
    RAdamState,
    Snapshot,
    hyperparameters_for,
    init_state,
)
from radam_core.for_adapters import (
    StepCoefficients,
    check_params,
    check_step_inputs,
    increment,
    step_scalars,
    update_leaf,
    update_leaf_in_place,
)
from radam_numpy.threads import SHARED_BYTES, Block, share

# Runs a wrapper's arithmetic on a block's new parameter values and its own slices.
Follow = Callable[[np.ndarray, tuple[np.ndarray, ...]], None]
# The error state of a pass whose errors a check pass has reported already.
SILENT: dict[str, Any] = {"all": "ignore"}

# Elements per block: 1 MiB of float32 per array (measured in docs/benchmarks.md, "Block
# sizes": smaller blocks wait more on the GIL, larger ones fall out of the cache).
BLOCK_SIZE = 1 << 18


class RAdam:
    """RAdam over NumPy arrays, updated in place: ``opt.step(grads)``.

    Each step is [`radam_core.step`][radam_core.step.step] (rectification: rho_t, r_t and the
    threshold decision; then ``theta -= lr r_t m_hat sqrt(bc2) / (sqrt(v_t) + eps)`` or, below the
    threshold, ``theta -= lr m_hat``), computed on blocks of ``block_size`` elements.
    In float64 it equals ``radam_core.step`` on the whole arrays to rounding.

    Example:
        >>> import numpy as np
        >>> x = np.array([1.0, -2.0])
        >>> opt = RAdam([x], lr=0.1)
        >>> for _ in range(100):
        ...     opt.step([2 * x])  # gradient of sum(x**2)

    Args:
        params: The arrays to optimize: writeable, C-contiguous, real or complex floating
            point (complex ones in optax's convention, v from ``|g|^2``).
        preset: A convention: a name of [`radam_core.presets`][radam_core.presets] (default
            ``"torch"``) or a [`radam_core.Preset`][radam_core.Preset].
        block_size: Elements per block, ``>= 1``.
        threads: Threads that share the large blocks, ``>= 1``; default: the CPU count.
            Blocks under 256 KiB run in the caller's thread
            ([`radam_numpy.threads.share`][radam_numpy.threads.share] says why).
        **hyperparameters: Fields of [`radam_core.Hyperparameters`][radam_core.Hyperparameters]
            (``lr``, ``betas``, ``eps``, ``weight_decay``, ...).

    Attributes:
        params: The arrays, updated in place by [`step`][radam_numpy.RAdam.step].
        hyperparameters: The validated [`radam_core.Hyperparameters`][radam_core.Hyperparameters].
        state: The [`radam_core.RAdamState`][radam_core.RAdamState]; its arrays are updated in
            place.
    """

    def __init__(
        self,
        params: Iterable[np.ndarray],
        preset: str | Preset = "torch",
        *,
        block_size: int = BLOCK_SIZE,
        threads: int | None = None,
        **hyperparameters: Any,
    ) -> None:
        self.hyperparameters = hyperparameters_for(preset, **hyperparameters)
        self.params = _checked_params(params)
        self.block_size = _positive_int("block_size", block_size)
        self.threads = _positive_int(
            "threads", (os.cpu_count() or 1) if threads is None else threads
        )
        self.state: RAdamState = init_state(self.params, xp, amsgrad=self.hyperparameters.amsgrad)

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{field.name}={getattr(self.hyperparameters, field.name)!r}"
            for field in dataclasses.fields(self.hyperparameters)
        )
        return f"RAdam({len(self.params)} arrays, step={self.state.count}, {fields})"

    def step(self, grads: Sequence[Any]) -> None:
        """Take one step with ``grads`` (one per parameter); ``params`` change in place.

        All or nothing: after any error, ``params``, ``state`` and the count are unchanged
        (see [`radam_numpy.optimizer`][radam_numpy.optimizer] for floating-point errors).

        Args:
            grads: One gradient per parameter: arrays, or anything ``np.asarray`` makes
                one of (a nested list), of the parameter's shape and dtype.

        Raises:
            TypeError, ValueError: A missing (None) or mismatched gradient, a read-only
                parameter or state array, a bad state.
            FloatingPointError: A floating-point error that the caller's
                ``np.errstate`` raises on.
        """
        self._step(grads)

    def _step(
        self,
        grads: Sequence[Any],
        also: Sequence[Sequence[np.ndarray]] = (),
        follow: Follow | None = None,
    ) -> dict[str, Any]:
        """[`step`][radam_numpy.RAdam.step], with a hook for a wrapper.

        The wrapper's own writes follow the step's.

        Args:
            grads: As [`step`][radam_numpy.RAdam.step]'s.
            also: Lists of arrays shaped like the parameters (a wrapper's), sliced into
                the same blocks and appended to each block.
            follow: Called in the check pass (if there is one) with each block's new
                parameter values and its ``also`` slices, under the caller's error state:
                a wrapper's arithmetic on the step's results, checked before any write.

        Returns:
            The error state the writes ran under, for the wrapper's writes to use.
        """
        hp = self.hyperparameters
        if not isinstance(hp, Hyperparameters):
            raise TypeError(f"hyperparameters must be a radam_core.Hyperparameters, got {hp!r}")
        grads = _checked_grads(grads)
        check_step_inputs(self.params, grads, self.state, hp, xp)
        self._check_writeable()
        t = increment(self.state.count)
        coefficients = step_scalars(t, hp).coefficients
        blocks = list(self._blocks(grads, also))
        errstate = {**np.geterr(), "call": np.geterrcall()}
        if blocks and _may_raise(errstate):
            self._run(blocks, coefficients, errstate, follow=follow, write=False)
            errstate = SILENT
        if blocks:
            self._run(blocks, coefficients, errstate, write=True)
        self.state = self.state._replace(count=t)
        return errstate

    def state_dict(self) -> dict[str, Any]:
        """A copy of the state, ready for pickle or ``np.savez``.

        Returns:
            ``count`` and lists of ``exp_avg``, ``exp_avg_sq`` and ``max_exp_avg_sq`` arrays.
        """
        return {
            "count": self.state.count,
            "exp_avg": [a.copy() for a in self.state.exp_avg],
            "exp_avg_sq": [a.copy() for a in self.state.exp_avg_sq],
            "max_exp_avg_sq": [a.copy() for a in self.state.max_exp_avg_sq],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a [`state_dict`][radam_numpy.RAdam.state_dict]; all or nothing.

        On any mismatch raise and change nothing.
        """
        candidate = RAdamState(
            count=state_dict["count"],
            exp_avg=tuple(np.array(a) for a in state_dict["exp_avg"]),
            exp_avg_sq=tuple(np.array(a) for a in state_dict["exp_avg_sq"]),
            max_exp_avg_sq=tuple(np.array(a) for a in state_dict.get("max_exp_avg_sq", ())),
        )
        check_step_inputs(self.params, self.params, candidate, self.hyperparameters, xp)
        self.state = candidate

    def export_state(self, names: Sequence[str] | None = None) -> Snapshot:
        """The state as a framework-neutral [`Snapshot`][radam_core.snapshot.Snapshot] (copies).

        Save it with [`radam_core.save_snapshot`][radam_core.snapshot.save_snapshot]; any
        adapter resumes from it.

        Args:
            names: One name per parameter, as the other framework knows it (default:
                ``"0"``, ``"1"``, ...).

        Returns:
            The snapshot: each parameter's count (the optimizer's one count), m and v.
        """
        names = _names(names, len(self.params))
        state, amsgrad = self.state, self.hyperparameters.amsgrad
        parameters = {}
        for i, (name, param) in enumerate(zip(names, self.params, strict=True)):
            arrays = (
                int(state.count),
                state.exp_avg[i].copy(),
                state.exp_avg_sq[i].copy(),
                state.max_exp_avg_sq[i].copy() if amsgrad else None,
            )
            complex_param = np.iscomplexobj(param)
            parameters[name] = (
                ParameterState.of_complex(*arrays) if complex_param else ParameterState(*arrays)
            )
        return Snapshot(self.hyperparameters, parameters)

    def import_state(self, snapshot: Snapshot, names: Sequence[str] | None = None) -> None:
        """Resume from a [`Snapshot`][radam_core.snapshot.Snapshot]; all or nothing.

        The moments and the count come from the snapshot; the hyperparameters stay this
        optimizer's (the conventions must match).

        Args:
            snapshot: From any adapter's ``export_state`` (or
                [`radam_core.load_snapshot`][radam_core.snapshot.load_snapshot]).
            names: One name per parameter, as in the snapshot (default: ``"0"``, ``"1"``, ...).

        Raises:
            ValueError: Names, shapes, dtypes or conventions that do not match, or
                parameters whose counts differ (this optimizer keeps one); nothing changed.
        """
        names = _names(names, len(self.params))
        shapes, complex_names = neutral_forms(names, self.params)
        snapshot.check(shapes, self.hyperparameters, complex_names=complex_names)
        counts = {snapshot.parameters[name].count for name in names}
        if len(counts) > 1:
            raise ValueError(
                f"radam_numpy keeps one step count, but the snapshot's parameters have "
                f"{sorted(counts)}"
            )
        slots = [native_slots(snapshot.parameters[name]) for name in names]
        self.state = RAdamState(
            count=counts.pop() if counts else 0,
            exp_avg=tuple(s["exp_avg"] for s in slots),
            exp_avg_sq=tuple(s["exp_avg_sq"] for s in slots),
            max_exp_avg_sq=tuple(s["max_exp_avg_sq"] for s in slots if "max_exp_avg_sq" in s),
        )

    def _blocks(
        self, grads: list[np.ndarray], also: Sequence[Sequence[np.ndarray]] = ()
    ) -> Iterable[Block]:
        """Aligned flat slices of every array of every parameter, ``block_size`` long.

        Each block is ``(param, grad, exp_avg, exp_avg_sq[, max_exp_avg_sq], *also)``.
        """
        state = self.state
        for index, param in enumerate(self.params):
            arrays = [param, grads[index], state.exp_avg[index], state.exp_avg_sq[index]]
            if self.hyperparameters.amsgrad:
                arrays.append(state.max_exp_avg_sq[index])
            if also:
                arrays.extend([arrays_of[index] for arrays_of in also])
            flat = [np.ravel(a) for a in arrays]  # views; only a strided grad is copied
            for start in range(0, max(param.size, 1), self.block_size):
                yield tuple([a[start : start + self.block_size] for a in flat])

    def _check_writeable(self) -> None:
        """Raise ``ValueError`` if a parameter or state array has become read-only."""
        state = self.state
        for name, arrays in (
            ("params", self.params),
            ("state.exp_avg", state.exp_avg),
            ("state.exp_avg_sq", state.exp_avg_sq),
            ("state.max_exp_avg_sq", state.max_exp_avg_sq),
        ):
            for index, array in enumerate(arrays):
                if not array.flags.writeable:
                    raise ValueError(f"{name}[{index}] is read-only; RAdam updates it in place")

    def _run(
        self,
        blocks: list[Block],
        coefficients: StepCoefficients,
        errstate: dict[str, Any],
        *,
        write: bool,
        follow: Follow | None = None,
    ) -> None:
        """Every block's step under ``errstate`` (in every thread): in place, or only computed.

        ``write=False`` runs [`update_leaf`][radam_core.for_adapters.update_leaf] and discards its
        results (after ``follow``, if given, has seen them): the check pass, whose only effect is a
        floating-point error raised under ``errstate``.
        """
        hp = self.hyperparameters
        own = 5 if hp.amsgrad else 4  # the arrays of a block that are the step's own

        def update(part: list[Block]) -> None:
            with np.errstate(**errstate):  # a pool thread starts from NumPy's default state
                for block in part:
                    param, grad, exp_avg, exp_avg_sq = block[:4]
                    max_exp_avg_sq = block[4] if hp.amsgrad else None
                    arrays = (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq)
                    if write:
                        update_leaf_in_place(*arrays, coefficients, hp, xp)
                        continue
                    new = update_leaf(*arrays, coefficients, hp, xp)
                    if follow is not None:
                        follow(new.param, block[own:])

        if len(blocks) == 1 and blocks[0][0].nbytes < SHARED_BYTES:
            update(blocks)  # one small block: the caller's thread, as share would run it
        else:
            share(update, blocks, self.threads)


def _checked_grads(grads: Sequence[Any]) -> list[np.ndarray]:
    """``grads`` as arrays (``np.asarray``); a single array or a None gradient raises."""
    if isinstance(grads, np.ndarray):
        raise TypeError("grads must be a sequence of arrays, got a single ndarray; wrap it: [g]")
    arrays = []
    for index, grad in enumerate(grads):
        if grad is None:
            raise TypeError(
                f"grads[{index}] is None; RAdam.step needs every parameter's gradient "
                "(np.zeros_like(param) for one that has none)"
            )
        arrays.append(np.asarray(grad))
        if arrays[-1].dtype == object:
            raise TypeError(f"grads[{index}] is not numeric: {grad!r}")
    return arrays


def _may_raise(errstate: dict[str, Any]) -> bool:
    """Whether a floating-point error could raise under ``errstate`` (``np.geterr()``).

    ``"raise"`` raises; ``"call"`` and ``"log"`` run the user's handler, which may; ``"warn"``
    raises where a warnings filter turns ``RuntimeWarning`` into an error.
    """
    actions = (errstate["divide"], errstate["over"], errstate["under"], errstate["invalid"])
    if "raise" in actions or "call" in actions or "log" in actions:
        return True
    return "warn" in actions and _runtime_warnings_are_errors()


def _runtime_warnings_are_errors() -> bool:
    """Whether some warnings filter could turn NumPy's ``RuntimeWarning`` into an error.

    Conservative: the first filter for the category that applies to every message and
    module decides; an ``"error"`` filter before it with a narrower pattern counts as one
    that could.
    """
    for action, message, category, module, _ in warnings.filters:
        if not issubclass(RuntimeWarning, category):
            continue
        if action == "error":
            return True
        patterns = {getattr(message, "pattern", message), getattr(module, "pattern", module)}
        if patterns <= _MATCH_ALL:
            return False
    return False


# The message and module patterns of a filter that applies to every warning.
_MATCH_ALL = frozenset({None, "", ".*"})


def _checked_params(params: Iterable[np.ndarray]) -> list[np.ndarray]:
    if isinstance(params, np.ndarray):
        raise TypeError("params must be an iterable of arrays, got a single ndarray; wrap it: [x]")
    params = list(params)
    for index, param in enumerate(params):
        if not isinstance(param, np.ndarray):
            raise TypeError(f"params[{index}] must be a numpy.ndarray, got {type(param).__name__}")
        if not (param.flags.c_contiguous and param.flags.writeable):
            raise ValueError(
                f"params[{index}] must be writeable and C-contiguous to be updated in place "
                "(use np.ascontiguousarray)"
            )
    check_params(params, xp)
    spans = sorted(
        (p.__array_interface__["data"][0], p.nbytes, index) for index, p in enumerate(params)
    )
    for (start, size, first), (next_start, _, second) in itertools.pairwise(spans):
        if next_start < start + size:
            raise ValueError(f"params[{first}] and params[{second}] share memory; pass each once")
    return params


def neutral_forms(
    names: Sequence[str], params: Sequence[np.ndarray]
) -> tuple[dict[str, tuple[tuple[int, ...], np.dtype[Any]]], list[str]]:
    """The shapes and dtypes a snapshot holds for ``params``, and the complex ones' names.

    A complex parameter (optax's convention) is given by its shape and real dtype.
    """
    shapes = {
        name: (p.shape, np.real(np.empty(0, p.dtype)).dtype)
        for name, p in zip(names, params, strict=True)
    }
    return shapes, [name for name, p in zip(names, params, strict=True) if np.iscomplexobj(p)]


def native_slots(state: ParameterState) -> dict[str, np.ndarray]:
    """A parameter's state arrays as radam_numpy keeps them (copies; complex ones complex)."""
    if state.is_complex:
        return state.complex_slots()
    return {slot: array.copy() for slot, array in state.slots().items()}


def _names(names: Sequence[str] | None, count: int) -> list[str]:
    """``names`` as a list of ``count`` distinct strings, or ``"0"``, ``"1"``, ... by default."""
    if names is None:
        return [str(i) for i in range(count)]
    names = list(names)
    if len(names) != count or len(set(names)) != count:
        raise ValueError(f"names must be {count} distinct names, one per parameter, got {names}")
    return names


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return value

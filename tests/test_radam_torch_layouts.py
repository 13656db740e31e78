"""radam_torch.RAdam on every memory layout torch allows, against torch.optim.RAdam.

PyTorch's CPU fused Adam kernel walks each tensor as ``numel`` consecutive elements from its
data pointer, whatever its strides: ``torch.optim.Adam(fused=True)`` itself is wrong on a
transposed gradient and writes between the elements of a non-dense parameter. radam_torch
runs its rectified steps in that kernel only where every tensor of a parameter is dense with
the same strides, and takes the core's step in place elsewhere. These tests give parameters,
gradients and state each a layout of their own (contiguous, permuted as by a transpose or
channels_last, non-dense as by a strided slice, offset into their storage) and compare every
step with torch.optim.RAdam on contiguous copies, over steps 1..8 (the first rectified step
is 6 for beta2 = 0.999), in float32 to a relative 1e-6. Each tensor lives in a storage of
its own with guard elements around and between its elements, which must never change.
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from radam_torch import RAdam  # noqa: E402

import radam_core  # noqa: E402
from tests.conventions import preset_kwargs  # noqa: E402

STEPS = 8
RTOL, ATOL = 1e-6, 1e-7


class Layout(NamedTuple):
    """How a tensor lies in its storage.

    Attributes:
        order: Its dimensions from the outermost in memory to the innermost
            (``range(ndim)``: contiguous; ``(0, 2, 3, 1)``: channels_last).
        gap: Every stride multiplied by it (2: a non-dense tensor, as ``base[::2]``).
        offset: Elements of storage before its first element.
    """

    order: tuple[int, ...]
    gap: int = 1
    offset: int = 0


class Placed(NamedTuple):
    """A tensor in its own storage, and the storage's elements that it does not cover."""

    tensor: torch.Tensor
    storage: torch.Tensor
    outside: torch.Tensor  # bool mask over the storage


def place(values: torch.Tensor, layout: Layout, seed: int = 0) -> Placed:
    """``values`` copied into a fresh storage in ``layout``, the rest of it random guards."""
    shape = values.shape
    strides = [0] * len(shape)
    span = layout.gap
    for dim in reversed(layout.order):
        strides[dim] = span
        span *= max(shape[dim], 1)
    generator = torch.Generator().manual_seed(seed)
    size = layout.offset + span + 2
    storage = torch.randn(size, generator=generator, dtype=torch.float64).to(values.dtype)
    tensor = storage.as_strided(shape, strides, layout.offset)
    tensor.copy_(values)
    outside = torch.ones(size, dtype=torch.bool)
    outside.as_strided(shape, strides, layout.offset).fill_(False)
    return Placed(tensor, storage, outside)


def guards(placed: Placed) -> torch.Tensor:
    return placed.storage[placed.outside].clone()


def gradient(param: torch.Tensor, t: int) -> torch.Tensor:
    """A contiguous gradient that depends on the parameter, so trajectories feed back.

    Elementwise on the real view of a complex parameter (a complex sin would overflow).
    """
    p = torch.view_as_real(param.detach()) if param.is_complex() else param.detach()
    g = torch.sin(3.0 * p + 0.1 * t) + 0.5 * p
    return torch.view_as_complex(g) if param.is_complex() else g


def run_both(
    values: torch.Tensor,
    param_layout: Layout,
    grad_layout: Layout,
    state_layout: Layout | None,
    options: dict[str, Any],
) -> None:
    """Steps 1..8 of ours in the given layouts and torch's contiguous, compared each step."""
    placed = place(values, param_layout, seed=1)
    param = torch.nn.Parameter(placed.tensor)
    assert param.data_ptr() == placed.tensor.data_ptr()  # the Parameter is the view
    reference = torch.nn.Parameter(values.clone())
    ours = RAdam([param], lr=0.02, **preset_kwargs(options))
    theirs = torch.optim.RAdam([reference], lr=0.02, **options)
    placed_state = []
    if state_layout is not None:
        placed_state = [place(torch.zeros_like(values), state_layout, seed=seed) for seed in (2, 3)]
        saved = ours.state_dict()
        saved["state"] = {
            0: {
                "step": torch.tensor(0.0),
                "exp_avg": placed_state[0].tensor,
                "exp_avg_sq": placed_state[1].tensor,
            }
        }
        ours.load_state_dict(saved)
    grad_buffer = place(torch.zeros_like(values), grad_layout, seed=4)
    before = [guards(p) for p in (placed, grad_buffer, *placed_state)]
    for t in range(1, STEPS + 1):
        grad_buffer.tensor.copy_(gradient(reference, t))
        param.grad = grad_buffer.tensor
        reference.grad = grad_buffer.tensor.clone()
        ours.step()
        theirs.step()
        assert torch.equal(param.grad, reference.grad)  # the gradient is never written
        torch.testing.assert_close(param.detach(), reference.detach(), rtol=RTOL, atol=ATOL)
    for name in ("exp_avg", "exp_avg_sq"):
        torch.testing.assert_close(
            ours.state[param][name], theirs.state[reference][name], rtol=RTOL, atol=ATOL
        )
    for placed_tensor, guard in zip((placed, grad_buffer, *placed_state), before, strict=True):
        assert torch.equal(guards(placed_tensor), guard)


@st.composite
def layouts(draw: st.DrawFn, ndim: int) -> Layout:
    order = draw(st.permutations(range(ndim)))
    return Layout(tuple(order), draw(st.sampled_from([1, 2])), draw(st.integers(0, 3)))


@st.composite
def cases(draw: st.DrawFn) -> tuple[torch.Tensor, Layout, Layout, Layout | None, dict]:
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=5)))
    dtype = draw(st.sampled_from([torch.float32, torch.complex64]))
    seed = draw(st.integers(0, 2**16))
    values = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    state = draw(st.none() | layouts(len(shape)))
    options = draw(
        st.sampled_from(
            [
                {},
                {"weight_decay": 0.1},
                {"weight_decay": 0.1, "decoupled_weight_decay": True},
                {"maximize": True},
            ]
        )
    )
    return values, draw(layouts(len(shape))), draw(layouts(len(shape))), state, options


@settings(max_examples=60, deadline=None)
@given(cases())
def test_any_layouts_match_torch_radam_and_write_only_their_elements(case):
    run_both(*case)


# The cases the property covers, named, as users meet them.
CONTIGUOUS_2D = Layout((0, 1))
TRANSPOSED_2D = Layout((1, 0))
NON_DENSE_2D = Layout((0, 1), gap=2)
CHANNELS_LAST = Layout((0, 2, 3, 1))
CHANNELS_LAST_3D = Layout((0, 2, 3, 4, 1))
NAMED = [
    pytest.param((5, 7), CONTIGUOUS_2D, TRANSPOSED_2D, None, id="grad_transposed"),
    pytest.param((5, 7), CONTIGUOUS_2D, NON_DENSE_2D, None, id="grad_strided"),
    pytest.param((5, 7), TRANSPOSED_2D, CONTIGUOUS_2D, None, id="param_transposed"),
    pytest.param((5, 7), TRANSPOSED_2D, TRANSPOSED_2D, None, id="both_transposed"),
    pytest.param((5, 7), NON_DENSE_2D, CONTIGUOUS_2D, None, id="param_non_dense"),
    pytest.param((5, 7), Layout((0, 1), offset=3), CONTIGUOUS_2D, None, id="param_sliced"),
    pytest.param((5, 7), CONTIGUOUS_2D, CONTIGUOUS_2D, TRANSPOSED_2D, id="state_transposed"),
    pytest.param((5, 7), CONTIGUOUS_2D, CONTIGUOUS_2D, NON_DENSE_2D, id="state_non_dense"),
    pytest.param((2, 3, 4, 5), CHANNELS_LAST, Layout(tuple(range(4))), None, id="channels_last"),
    pytest.param((2, 3, 4, 5), CHANNELS_LAST, CHANNELS_LAST, None, id="channels_last_both"),
    pytest.param(
        (2, 3, 2, 4, 5), CHANNELS_LAST_3D, Layout(tuple(range(5))), None, id="channels_last_3d"
    ),
]


@pytest.mark.parametrize(("shape", "param_layout", "grad_layout", "state_layout"), NAMED)
@pytest.mark.parametrize("dtype", [torch.float32, torch.complex64], ids=str)
def test_named_layouts_match_torch_radam(shape, param_layout, grad_layout, state_layout, dtype):
    values = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=dtype)
    run_both(values, param_layout, grad_layout, state_layout, {})


def test_memory_formats_match_torch_radam():
    """torch's own memory formats, through autograd (whose grads follow the parameter)."""
    for shape, memory_format in (
        ((2, 3, 4, 5), torch.channels_last),
        ((2, 3, 2, 4, 5), torch.channels_last_3d),
    ):
        values = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        param = torch.nn.Parameter(values.to(memory_format=memory_format))
        reference = torch.nn.Parameter(values.clone())
        ours, theirs = RAdam([param], lr=0.02), torch.optim.RAdam([reference], lr=0.02)
        for _ in range(STEPS):
            for p, opt in ((param, ours), (reference, theirs)):
                opt.zero_grad()
                (torch.sin(3.0 * p) * p).sum().backward()
                opt.step()
            torch.testing.assert_close(param.detach(), reference.detach(), rtol=RTOL, atol=ATOL)
        assert param.is_contiguous(memory_format=memory_format)


def test_non_dense_param_leaves_the_memory_between_its_elements():
    base = torch.zeros(20)
    param = torch.nn.Parameter(base[::2])
    opt = RAdam([param])
    for _ in range(STEPS):
        param.grad = torch.ones(10)
        opt.step()
    assert torch.equal(base[1::2], torch.zeros(10))
    assert (base[::2] < 0).all()


def test_uniform_layouts_keep_the_fused_kernel(monkeypatch):
    """Tensors all laid out alike (transposed, channels_last) still run fused; mixed do not."""
    calls: list[int] = []
    kernel = torch._fused_adam_

    def counted(params, *args, **kwargs):
        calls.append(len(params))
        return kernel(params, *args, **kwargs)

    monkeypatch.setattr(torch, "_fused_adam_", counted)
    uniform = [
        torch.nn.Parameter(torch.randn(7, 5).t()),
        torch.nn.Parameter(torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last)),
        torch.nn.Parameter(torch.randn(4, 3)),
    ]
    mixed = torch.nn.Parameter(torch.randn(5, 7))
    opt = RAdam([*uniform, mixed])
    for _ in range(6):  # step 6: the first rectified one
        for p in uniform:
            p.grad = torch.ones_like(p)  # preserve_format: the parameter's own strides
        mixed.grad = torch.ones(7, 5).t()
        opt.step()
    assert calls == [3]


def test_every_layout_combination_of_a_small_matrix():
    """The exhaustive small version of the property: 3 layouts for each of 3 tensors."""
    values = torch.randn((3, 4), generator=torch.Generator().manual_seed(5))
    choices = [CONTIGUOUS_2D, TRANSPOSED_2D, NON_DENSE_2D]
    for param_layout, grad_layout, state_layout in itertools.product(choices, repeat=3):
        run_both(values, param_layout, grad_layout, state_layout, {})


@pytest.mark.parametrize("fused", [None, False])
def test_amsgrad_in_any_layout_matches_its_contiguous_run(fused):
    """amsgrad (no torch.optim.RAdam counterpart): a transposed gradient and a non-dense
    parameter against the same run on contiguous tensors (the fused kernel's, with None)."""
    values = torch.randn((5, 7), generator=torch.Generator().manual_seed(3))
    placed = place(values, NON_DENSE_2D, seed=1)
    param = torch.nn.Parameter(placed.tensor)
    reference = torch.nn.Parameter(values.clone())
    amsgrad = radam_core.PRESETS["torch"].replace(amsgrad=True)
    ours = RAdam([param], lr=0.02, preset=amsgrad, fused=fused)
    contiguous = RAdam([reference], lr=0.02, preset=amsgrad)
    guard = guards(placed)
    for t in range(1, STEPS + 1):
        param.grad = gradient(reference, t).t().contiguous().t()
        reference.grad = gradient(reference, t)
        ours.step()
        contiguous.step()
        torch.testing.assert_close(param.detach(), reference.detach(), rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(
        ours.state[param]["max_exp_avg_sq"],
        contiguous.state[reference]["max_exp_avg_sq"],
        rtol=RTOL,
        atol=ATOL,
    )
    assert torch.equal(guards(placed), guard)

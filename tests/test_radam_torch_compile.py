"""radam_torch.RAdam under torch.compile, and on CUDA (skipped without a GPU).

Under ``torch.compiler.is_compiling()`` the optimizer takes the core's step with the count
as a 0-d tensor, so one graph serves every step: the tests check that the compiled step
gives the eager step's parameters over 10 steps (steps 1..5 are SGD-with-momentum steps
for beta2 = 0.999, rectified steps start at 6), that no graph break falls inside the math,
and that nothing recompiles after the first step.

Compilation follows torch's own tests (test/inductor/test_compiled_optimizers.py):
``torch.compile(opt.step)`` as users write it, where torch's ``_use_grad_for_differentiable``
wrapper breaks the graph on purpose (its "Note on graph break"), and torch's ``compile_opt``
recipe, which unwraps ``step`` twice and compiles with ``fullgraph=True`` so any break in the
optimizer's own code is an error.

Backends: the parity test runs ``aot_eager`` (traces through AOTAutograd and
functionalization, ~2 s per case here) for three option sets and ``inductor`` once (10-20 s
of C++ code generation on a 2-core CPU with a cold cache); the graph-break, recompile and
graph-content checks use ``aot_eager`` or a recording backend, since Dynamo decides them
before any backend runs.

Tolerance of compiled vs eager (float32): the float32 defaults of
``torch.testing.assert_close`` (rtol 1.3e-6, atol 1e-5), as torch's compiled-optimizer
tests use. The eager step computes the step's scalars on the host in float64 and runs
rectified steps in the fused Adam kernel; the compiled step computes them as float64
tensors cast to float32, so the two differ by float32 rounding only (2.3e-10 at most over
these 10 steps, with either backend).

Third-party warnings filtered (pytest turns warnings into errors): Dynamo's UserWarning
"Dynamo detected a call to a `functools.lru_cache`-wrapped function", raised while it
traces array_api_compat's cached helpers (``array_api_compat/common/_helpers.py``); and
torch's DeprecationWarning "`torch.jit.script_method` is deprecated", raised when Dynamo's
optimizer support first imports torch._inductor, whose imports reach torch.utils.mkldnn.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from radam_torch import RAdam  # noqa: E402
from torch._dynamo.utils import counters  # noqa: E402

from tests.conventions import preset_kwargs  # noqa: E402

STEPS = 10
SHAPES = ((10, 10), (10,), (3, 10), (3,), ())  # () : a 0-d parameter too

LRU_CACHE_WARNING = (
    "ignore:Dynamo detected a call to a `functools.lru_cache`-wrapped function:UserWarning"
)
# Raised once per process when Dynamo's optimizer support imports torch._inductor, which
# imports torch.utils.mkldnn (its classes use the deprecated torch.jit.script_method).
SCRIPT_METHOD_WARNING = "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
pytestmark = [
    pytest.mark.filterwarnings(LRU_CACHE_WARNING),
    pytest.mark.filterwarnings(SCRIPT_METHOD_WARNING),
]


@pytest.fixture(autouse=True)
def fresh_dynamo() -> Iterator[None]:
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()
    counters.clear()


def make_params(seed: int = 0, device: str = "cpu") -> list[torch.nn.Parameter]:
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.nn.Parameter(torch.randn(shape, generator=generator).to(device)) for shape in SHAPES
    ]


def make_grads(device: str = "cpu") -> list[list[torch.Tensor]]:
    """Gradients of every step, the same for every optimizer under comparison."""
    generator = torch.Generator().manual_seed(1)
    return [
        [torch.randn(shape, generator=generator).to(device) for shape in SHAPES]
        for _ in range(STEPS)
    ]


def set_grads(params: list[torch.nn.Parameter], grads: list[torch.Tensor]) -> None:
    for param, grad in zip(params, grads, strict=True):
        param.grad = grad.clone()


def assert_same_trajectory_state(actual: RAdam, expected: RAdam, **tolerance: float) -> None:
    """Parameters and every state tensor of two optimizers agree."""
    for group_a, group_e in zip(actual.param_groups, expected.param_groups, strict=True):
        for p_a, p_e in zip(group_a["params"], group_e["params"], strict=True):
            torch.testing.assert_close(p_a.detach(), p_e.detach(), **tolerance)
            state_a, state_e = actual.state[p_a], expected.state[p_e]
            assert state_a.keys() == state_e.keys()
            for key in state_e:
                torch.testing.assert_close(
                    state_a[key], state_e[key], **tolerance, msg=lambda m, k=key: f"{k}: {m}"
                )


def torch_compile_opt(optimizer: RAdam, backend: str, fullgraph: bool = True) -> Callable:
    """torch's ``compile_opt`` recipe (test/inductor/test_compiled_optimizers.py).

    Unwrapping step twice skips the profiling hook and ``_use_grad_for_differentiable``,
    whose deliberate graph break would otherwise end the graph; grad mode is disabled by
    the caller instead.
    """
    torch._dynamo.eval_frame.TorchPatcher.patch()
    step_fn = optimizer.step.__wrapped__.__wrapped__  # type: ignore[attr-defined]
    optimizer._opt_called = True  # type: ignore[attr-defined]

    def fn() -> None:
        step_fn(optimizer)

    return torch.compile(fn, backend=backend, fullgraph=fullgraph)


@contextlib.contextmanager
def graph_break_sites() -> Iterator[list[tuple[str, int]]]:
    """(file, line) of each graph break Dynamo reports through its graph_breaks log."""
    sites: list[tuple[str, int]] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            match = re.search(r"Graph break in user code at (.+):(\d+)", record.getMessage())
            if match:
                sites.append((match.group(1), int(match.group(2))))

    logger = logging.getLogger("torch._dynamo.symbolic_convert.__graph_breaks")
    handler = Handler()
    torch._logging.set_logs(graph_breaks=True)
    logger.addHandler(handler)
    try:
        yield sites
    finally:
        logger.removeHandler(handler)
        torch._logging.set_logs()


def unique_graphs() -> int:
    return int(counters["stats"]["unique_graphs"])


@pytest.mark.parametrize(
    ("backend", "options"),
    [
        pytest.param("aot_eager", {}, id="aot_eager-default"),
        pytest.param(
            "aot_eager",
            {"weight_decay": 0.1, "decoupled_weight_decay": True, "amsgrad": True},
            id="aot_eager-adamw_amsgrad",
        ),
        pytest.param(
            "aot_eager",
            {"weight_decay": 0.1, "maximize": True, "nesterov": True},
            id="aot_eager-l2_maximize_nesterov",
        ),
        # inductor once: its C++ code generation takes 10-20 s here with a cold cache.
        pytest.param("inductor", {}, id="inductor-default"),
    ],
)
def test_compiled_step_matches_eager(backend: str, options: dict[str, Any]) -> None:
    eager_params, compiled_params = make_params(), make_params()
    eager = RAdam(eager_params, lr=1e-2, **preset_kwargs(options))
    compiled = RAdam(compiled_params, lr=1e-2, **preset_kwargs(options))
    compiled_step = torch.compile(compiled.step, backend=backend)
    for grads in make_grads():
        set_grads(eager_params, grads)
        set_grads(compiled_params, grads)
        eager.step()
        compiled_step()
        assert_same_trajectory_state(compiled, eager)
    assert compiled.state[compiled_params[0]]["step"].item() == STEPS


@pytest.mark.parametrize("shape", [(), (3,)])
def test_compiled_float64_step_updates_the_state_of_every_shape(shape: tuple[int, ...]) -> None:
    """A 0-d float64 state tensor too: torch.compile (2.13) drops in-place writes into
    0-d float64 tensors, so radam_torch writes them through 1-element views."""
    eager_param = torch.nn.Parameter(torch.ones(shape, dtype=torch.float64))
    compiled_param = torch.nn.Parameter(torch.ones(shape, dtype=torch.float64))
    eager, compiled = RAdam([eager_param], lr=0.1), RAdam([compiled_param], lr=0.1)
    compiled_step = torch.compile(compiled.step, backend="aot_eager")
    for t in range(1, 8):
        eager_param.grad = torch.full(shape, 0.5 * t, dtype=torch.float64)
        compiled_param.grad = eager_param.grad.clone()
        eager.step()
        compiled_step()
        assert_same_trajectory_state(compiled, eager, rtol=1e-14, atol=0.0)
    assert compiled.state[compiled_param]["exp_avg"].abs().min() > 0


def test_fullgraph_compile_no_graph_break_in_step() -> None:
    """torch's recipe with fullgraph=True: any break in RAdam's or the core's code raises."""
    eager_params, compiled_params = make_params(), make_params()
    eager, compiled = RAdam(eager_params, lr=1e-2), RAdam(compiled_params, lr=1e-2)
    compiled_step = torch_compile_opt(compiled, backend="aot_eager", fullgraph=True)
    for grads in make_grads():
        set_grads(eager_params, grads)
        set_grads(compiled_params, grads)
        eager.step()
        with torch.no_grad():
            compiled_step()
    assert_same_trajectory_state(compiled, eager)
    assert unique_graphs() == 1
    assert not counters["graph_break"]


def test_compiled_step_breaks_only_in_torch_hooks() -> None:
    """``torch.compile(opt.step)``: the only breaks are torch's deliberate ones.

    torch.optim.optimizer._use_grad_for_differentiable calls torch._dynamo.graph_break()
    around the step; every other break would fall inside RAdam or radam_core.
    """
    params = make_params()
    optimizer = RAdam(params, lr=1e-2)
    compiled_step = torch.compile(optimizer.step, backend="aot_eager")
    with graph_break_sites() as sites:
        for grads in make_grads():
            set_grads(params, grads)
            compiled_step()
    assert sites, "expected torch's deliberate graph break in _use_grad_for_differentiable"
    outside = [site for site in sites if not site[0].endswith("torch/optim/optimizer.py")]
    assert outside == [], outside
    reasons = list(counters["graph_break"])
    assert all(r.startswith("Call to `torch._dynamo.graph_break()`") for r in reasons), reasons
    # The math is one graph: the frames around the deliberate breaks hold no tensor op.
    assert unique_graphs() == 1


def test_no_recompile_after_first_step() -> None:
    """The count is a tensor: crossing the threshold (step 6) recompiles nothing."""
    params = make_params()
    optimizer = RAdam(params, lr=1e-2)
    compiled_step = torch.compile(optimizer.step, backend="aot_eager")
    all_grads = make_grads()
    set_grads(params, all_grads[0])
    compiled_step()
    graphs = unique_graphs()
    with torch._dynamo.config.patch(error_on_recompile=True):
        for grads in all_grads[1:]:
            set_grads(params, grads)
            compiled_step()
    assert unique_graphs() == graphs
    assert optimizer.state[params[0]]["step"].item() == STEPS


def test_compiled_graph_keeps_count_tensor() -> None:
    """Under compile the count stays a tensor: no .item(), no host float, no fused kernel."""
    graphs: list[torch.fx.GraphModule] = []

    def recording_backend(gm: torch.fx.GraphModule, example_inputs: Any) -> Callable:
        graphs.append(gm)
        return gm.forward

    params = make_params()
    optimizer = RAdam(params, lr=1e-2)
    compiled_step = torch.compile(optimizer.step, backend=recording_backend)
    for grads in make_grads()[:7]:  # through the first rectified step
        set_grads(params, grads)
        compiled_step()
    targets = [node.target for gm in graphs for node in gm.graph.nodes if node.op != "placeholder"]
    names = [getattr(t, "__name__", str(t)) for t in targets]
    assert len(graphs) == 1, [gm.code for gm in graphs]
    assert not {"item", "_local_scalar_dense", "tolist"} & set(names), names
    assert torch._fused_adam_ not in targets
    assert torch._fused_adamw_ not in targets
    assert torch.expm1 in targets  # the core's bias corrections and rho_t, in the graph
    step = optimizer.state[params[0]]["step"]
    assert isinstance(step, torch.Tensor)
    assert step.item() == 7


def test_compiled_tensor_lr_follows_scheduler_without_recompile() -> None:
    """A tensor lr changed by a scheduler (in place) is an input of the graph, not a guard."""
    eager_params, compiled_params = make_params(), make_params()
    eager = RAdam(eager_params, lr=torch.tensor(1e-2))
    compiled = RAdam(compiled_params, lr=torch.tensor(1e-2))
    eager_schedule = torch.optim.lr_scheduler.ExponentialLR(eager, gamma=0.7)
    compiled_schedule = torch.optim.lr_scheduler.ExponentialLR(compiled, gamma=0.7)
    compiled_step = torch.compile(compiled.step, backend="aot_eager")
    for index, grads in enumerate(make_grads()):
        set_grads(eager_params, grads)
        set_grads(compiled_params, grads)
        eager.step()
        with torch._dynamo.config.patch(error_on_recompile=index > 0):
            compiled_step()
        eager_schedule.step()
        compiled_schedule.step()
    assert_same_trajectory_state(compiled, eager)
    torch.testing.assert_close(compiled.param_groups[0]["lr"], torch.tensor(1e-2 * 0.7**STEPS))


def test_eager_core_path_matches_fused_path() -> None:
    """Sanity for the comparisons above: eager fused and eager core steps agree.

    ``fused=False`` runs every step through the core (the path compile takes), with host
    coefficients; it must match the default (fused rectified steps) to float32 rounding.
    """
    fused_params, core_params = make_params(), make_params()
    fused, core = RAdam(fused_params, lr=1e-2), RAdam(core_params, lr=1e-2, fused=False)
    for grads in make_grads():
        set_grads(fused_params, grads)
        set_grads(core_params, grads)
        fused.step()
        core.step()
    assert_same_trajectory_state(core, fused)


def test_capturable_step_never_reads_count_on_host() -> None:
    """capturable=True: no op of the step reads a tensor on the host (no .item()).

    On CPU this is observable as aten._local_scalar_dense in a dispatch mode; on CUDA the
    same read is a device synchronization, and an error inside CUDA graph capture.
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    class RecordOps(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.ops: list[Any] = []

        def __torch_dispatch__(
            self, func: Any, types: Any, args: Any = (), kwargs: Any = None
        ) -> Any:
            self.ops.append(func)
            return func(*args, **(kwargs or {}))

    params = make_params()
    optimizer = RAdam(params, lr=torch.tensor(1e-2), capturable=True)
    host_reads = []
    for step, grads in enumerate(make_grads()[:7], start=1):
        set_grads(params, grads)
        with RecordOps() as recorder:
            optimizer.step()
        reads = [f for f in recorder.ops if f is torch.ops.aten._local_scalar_dense.default]
        host_reads.append((step, len(reads)))
    assert all(count == 0 for _, count in host_reads), host_reads


def test_capturable_eager_path_matches_default() -> None:
    """capturable=True takes the compiled path's branch eagerly (tensor count, core math)."""
    default_params, capturable_params = make_params(), make_params()
    default = RAdam(default_params, lr=1e-2)
    capturable = RAdam(capturable_params, lr=1e-2, capturable=True)
    for grads in make_grads():
        set_grads(default_params, grads)
        set_grads(capturable_params, grads)
        default.step()
        capturable.step()
    assert_same_trajectory_state(capturable, default)


# --- CUDA: run where a GPU is present, skipped cleanly elsewhere ----------------------------

requires_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="CUDA is not available (torch.cuda.is_available() is False): the CUDA path of "
    "radam_torch.RAdam is exercised only on a machine with a GPU",
)


@requires_cuda
@pytest.mark.parametrize("capturable", [False, True])
def test_cuda_trajectory_matches_torch_radam(capturable: bool) -> None:
    """On CUDA (core step for every step: no fused kernel is used there), against torch's."""
    ours_params, torch_params = make_params(device="cuda"), make_params(device="cuda")
    ours = RAdam(ours_params, lr=1e-2, weight_decay=0.1, capturable=capturable)
    reference = torch.optim.RAdam(
        torch_params, lr=1e-2, weight_decay=0.1, capturable=capturable, foreach=False
    )
    for grads in make_grads(device="cuda"):
        set_grads(ours_params, grads)
        set_grads(torch_params, grads)
        ours.step()
        reference.step()
    for p_ours, p_torch in zip(ours_params, torch_params, strict=True):
        assert p_ours.device.type == "cuda"
        torch.testing.assert_close(p_ours.detach(), p_torch.detach())
        for key in ("exp_avg", "exp_avg_sq", "step"):
            torch.testing.assert_close(ours.state[p_ours][key], reference.state[p_torch][key])
        if capturable:
            assert ours.state[p_ours]["step"].device.type == "cuda"


@requires_cuda
def test_cuda_graph_whole_network_capture() -> None:
    """capturable=True under PyTorch's whole-network capture recipe (torch.cuda.graphs docs).

    Warm up on a side stream (3 steps), capture forward, backward and optimizer.step in a
    CUDAGraph, then replay it on new data: the replays take steps 4..13, across the
    rectification threshold, so the count must live on the device and never reach the host.
    The replayed parameters must match the same steps taken eagerly.
    """
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(10, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4)
    ).cuda()
    eager_model = copy.deepcopy(model)
    loss_fn = torch.nn.MSELoss()
    optimizer = RAdam(model.parameters(), lr=1e-2, capturable=True)
    eager_optimizer = RAdam(eager_model.parameters(), lr=1e-2)
    warmup, replays = 3, 10
    data = [
        (torch.randn(8, 10, device="cuda"), torch.randn(8, 4, device="cuda"))
        for _ in range(warmup + replays)
    ]
    static_input, static_target = data[0][0].clone(), data[0][1].clone()

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for x, y in data[:warmup]:
            static_input.copy_(x)
            static_target.copy_(y)
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(static_input), static_target).backward()
            optimizer.step()
    torch.cuda.current_stream().wait_stream(side)

    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        static_loss = loss_fn(model(static_input), static_target)
        static_loss.backward()
        optimizer.step()

    for x, y in data[warmup:]:
        static_input.copy_(x)
        static_target.copy_(y)
        graph.replay()
    torch.cuda.synchronize()

    for x, y in data:
        eager_optimizer.zero_grad(set_to_none=True)
        loss_fn(eager_model(x), y).backward()
        eager_optimizer.step()

    for p_graph, p_eager in zip(model.parameters(), eager_model.parameters(), strict=True):
        torch.testing.assert_close(p_graph.detach(), p_eager.detach())
        step = optimizer.state[p_graph]["step"]
        assert step.device.type == "cuda"
        assert step.item() == warmup + replays

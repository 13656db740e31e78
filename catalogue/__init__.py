"""The catalogue of RAdam implementations that the benchmark and the equivalence harness run.

Each implementation is defined once, as an
[`Implementation`][catalogue.implementation.Implementation]: one builder that makes a
[`Stepper`][catalogue.stepper.Stepper] from a [`Setup`][catalogue.stepper.Setup] (the
initial parameters, the configuration or the implementation's defaults, and the device),
the packages it needs, the worker process it runs in ([`WORKERS`][catalogue.workers.WORKERS]:
Keras needs one backend per process), the devices it runs on, and which harness shows it:
its [`BenchmarkRow`][catalogue.implementation.BenchmarkRow] in ``python -m benchmarks``
(peers timed there only: ``torch.optim.Adam(fused)``, the naive NumPy step, the Ranger
k-cycles), its [`EquivalenceRows`][catalogue.implementation.EquivalenceRows] in
``python -m tests.equivalence`` (the dtypes and configurations it is checked in; peers
checked there only: the authors' algorithm, ``torch.optim.RAdam(foreach=False)``, and the
core on other namespaces). Frameworks are imported by the builders only, in the worker
process that runs them.

Layout: ``stepper.py`` (the interface and what it is built from), ``implementation.py``
(an entry), ``workers.py``, ``presets.py``; one module per framework (``core_impls.py``,
``numpy_impls.py``, ``torch_impls.py``, ``keras_impls.py``, ``jax_impls.py``) and the two
hand-written references (``naive.py``, ``authors.py``).
"""

from __future__ import annotations

from catalogue import core_impls, jax_impls, keras_impls, numpy_impls, torch_impls
from catalogue.authors import AUTHORS
from catalogue.implementation import Implementation
from catalogue.naive import NAIVE_NUMPY

# Every implementation, in the order of both harnesses' reports.
IMPLEMENTATIONS: tuple[Implementation, ...] = (
    NAIVE_NUMPY,
    core_impls.NUMPY_CORE,
    core_impls.STRICT_CORE,
    numpy_impls.RADAM_NUMPY,
    numpy_impls.RADAM_NUMPY_RANGER,
    AUTHORS,
    *torch_impls.IMPLEMENTATIONS,
    *keras_impls.IMPLEMENTATIONS,
    *jax_impls.IMPLEMENTATIONS,
    core_impls.CUPY_CORE,
)

"""Cross-backend equivalence harness: does RAdam behave identically in every framework?

``python -m tests.equivalence [--device cpu|cuda] [--quick]`` runs every implementation
(radam_core.step on each Array API namespace, radam_numpy, radam_torch on each of its
paths, radam_keras on each Keras backend, radam_optax) and the peer goldens
(torch.optim.RAdam, optax.radam, optax.lookahead, the authors' algorithm) on three seeded
problems under every configuration (RAdam alone, and in the lookahead group wrapped in
each framework's Lookahead), compares each trajectory with the float64 oracle of
``tests/oracle.py`` (followed by Lookahead for that group), prints one report row per
implementation x problem x configuration group, and exits 0 (all passed or skipped), 1
(a failure) or 3 (``--device cuda`` without a CUDA device). ``pytest tests/equivalence``
runs the same CPU rows as tests
(``test_rows.py``), tests the harness itself (``test_harness.py``,
``test_harness_setup.py``), and judges by the same oracle and bounds a run saved in each
framework and resumed in each other one (``test_snapshot_matrix.py``; what it runs,
``snapshot_cases.py``; its worker process, ``snapshot_worker.py``, over
``snapshot_frameworks.py``).

How a row is judged:

- Each step's gradient is computed in float64 NumPy from the implementation's current
  parameters (:mod:`~tests.equivalence.problems`), cast to its dtype and fed to it
  (:mod:`~tests.equivalence.runner`); the oracle replays exactly the gradients the
  implementation got (:mod:`~tests.equivalence.reference`, which explains why: on the
  MLP with Nesterov momentum, closed-loop float64 trajectories that differ in the last
  bit of a step scalar end 2e-3 apart after 1000 steps).
- float64 rows must agree with the oracle to 1e-12 relative at every step and element;
  float32 rows within a running error bound derived from float32's unit roundoff
  (:mod:`~tests.equivalence.float32_bound`). A failure names the implementation, the
  configuration, the step, the parameter and the element that diverged first
  (:mod:`~tests.equivalence.compare`).
- A package that is missing, or a configuration that does not map exactly onto an
  implementation's arguments, gives a SKIP that says why; nothing is left out silently.

Layout: the implementations are the catalogue's (:mod:`catalogue`: how each is built, the
packages it needs, its worker process, the dtypes and configurations it is checked in);
``problems.py``, ``configs.py`` (what runs), ``registry.py`` (row families and worker
processes), ``worker.py`` (one process's rows), ``harness.py`` (the processes),
``runner.py``, ``reference.py``, ``float32_bound.py``, ``compare.py`` (the verdict),
``results.py``, ``report.py``, ``cuda.py``, ``__main__.py``.
"""

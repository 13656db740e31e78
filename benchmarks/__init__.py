"""The benchmark harness: RAdam step times as ratios measured in one run.

``python -m benchmarks`` times every benchmarked implementation on the same arrays and
reports each step time against a naive allocate-per-operation NumPy step and against
the machine's measured triad memory bandwidth, then evaluates the declared targets.
Add an implementation to the catalogue (:mod:`catalogue`) with a
``catalogue.implementation.BenchmarkRow``; add a target to ``benchmarks.targets.TARGETS``.
"""

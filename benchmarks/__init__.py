"""The benchmark harness: RAdam step times as ratios measured in one run.

``python -m benchmarks`` times every registered implementation on the same arrays and
reports each step time against a naive allocate-per-operation NumPy step and against
the machine's measured triad memory bandwidth, then evaluates the declared targets.
Add an implementation with ``benchmarks.registry.register`` in a module listed in
``benchmarks.registry.MODULES``; add a target to ``benchmarks.targets.TARGETS``.
"""

"""The implementations the harness runs, one module per framework.

Each module lists its :class:`~tests.equivalence.implementations.base.Implementation` s in
``IMPLEMENTATIONS``; frameworks are imported only inside the builders, in the worker
process that runs them.
"""

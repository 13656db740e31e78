"""The worker processes the implementations run in.

Keras reads ``KERAS_BACKEND`` once per process, so each Keras backend has a worker of its
own; the other workers keep one framework's global state (JAX's x64 mode, torch.compile's
caches, thread pools) away from another's. Both harnesses start an implementation's
process with its worker's environment.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Worker:
    """A worker process: its name, extra environment, and expected share of the work.

    Attributes:
        name: The name implementations give as their ``worker``.
        env: Environment variables its process needs.
        weight: Its run time in seconds in the equivalence harness on the 2-core
            development machine (full CPU run), roughly: the longest starts first.
    """

    name: str
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    weight: float = 1.0


WORKERS: dict[str, Worker] = {
    worker.name: worker
    for worker in (
        Worker("numpy", weight=65.0),
        Worker("radam_optax", weight=60.0),
        Worker("torch", weight=50.0),
        Worker("torch-compiled", weight=50.0),
        Worker("jax", weight=45.0),
        Worker("keras-jax", {"KERAS_BACKEND": "jax"}, weight=40.0),
        Worker("keras-tensorflow", {"KERAS_BACKEND": "tensorflow"}, weight=30.0),
        Worker("keras-torch", {"KERAS_BACKEND": "torch"}, weight=20.0),
        Worker("cupy", weight=10.0),
    )
}

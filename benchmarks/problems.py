"""The benchmark problems: lists of fp32 tensor shapes, filled from a fixed seed."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

SEED = 0
BYTES_PER_PARAM = 28  # fp32: a step reads p, g, m, v and writes p, m, v


@dataclasses.dataclass(frozen=True)
class Problem:
    """A model to step: the shapes of its parameter tensors.

    Attributes:
        name: The name used by ``--problem``, the table and the JSON.
        description: The model, in a few words.
        shapes: One shape per parameter tensor.
    """

    name: str
    description: str
    shapes: tuple[tuple[int, ...], ...]

    @property
    def n_params(self) -> int:
        """The total number of parameters."""
        return sum(math.prod(shape) for shape in self.shapes)

    def arrays(self, seed: int = SEED) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Standard-normal fp32 parameters and gradients, reproducible from ``seed``.

        Args:
            seed: Seed of the generator.

        Returns:
            ``(params, grads)``, one array of each per shape.
        """
        rng = np.random.default_rng(seed)
        params = [rng.standard_normal(shape, dtype=np.float32) for shape in self.shapes]
        grads = [rng.standard_normal(shape, dtype=np.float32) for shape in self.shapes]
        return params, grads


def _transformer_like(name: str, width: int) -> Problem:
    """12 square ``width`` matrices, 12 ``width`` vectors and 2 ``4 width x width`` matrices."""
    shapes = ((width, width),) * 12 + ((width,),) * 12 + ((4 * width, width),) * 2
    return Problem(name, f"{len(shapes)} tensors, widths of {width}", shapes)


def _many_small(count: int, size: int) -> Problem:
    return Problem("many-small", f"{count} tensors of {size} elements", ((size,),) * count)


# The full problems: "large" is a 21M-parameter model in 26 tensors.
PROBLEMS: dict[str, Problem] = {
    "large": _transformer_like("large", 1024),
    "many-small": _many_small(1000, 4096),
}

# --quick: the same problems about 1000x smaller, for a smoke test in seconds.
QUICK_PROBLEMS: dict[str, Problem] = {
    "large": _transformer_like("large", 32),
    "many-small": _many_small(100, 64),
}

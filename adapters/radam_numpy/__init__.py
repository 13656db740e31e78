"""radam_numpy: RAdam for plain NumPy arrays, in place, and a teaching ``minimize``.

The math comes from [`radam_core`][radam_core]; this package only slices arrays into blocks,
writes the results back and runs the loop.
"""

from radam_numpy.lookahead import Lookahead, Ranger
from radam_numpy.minimize import MinimizeResult, minimize
from radam_numpy.optimizer import RAdam

__all__ = ["Lookahead", "MinimizeResult", "RAdam", "Ranger", "minimize"]

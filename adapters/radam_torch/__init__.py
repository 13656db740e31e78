"""radam_torch: ``RAdam``, a drop-in ``torch.optim.RAdam`` whose math is radam_core."""

from radam_torch.lookahead import Lookahead, Ranger
from radam_torch.optimizer import RAdam

__all__ = ["Lookahead", "RAdam", "Ranger"]

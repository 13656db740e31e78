"""radam_torch: ``RAdam``, a drop-in ``torch.optim.RAdam`` whose math is radam_core.

``register_with_timm()`` makes it a name timm's ``create_optimizer_v2`` takes
([`radam_torch.timm_registry`][radam_torch.timm_registry]); timm is imported by that call only.
"""

from radam_torch.lookahead import Lookahead, Ranger
from radam_torch.optimizer import RAdam
from radam_torch.timm_registry import register_with_timm

__all__ = ["Lookahead", "RAdam", "Ranger", "register_with_timm"]

"""bohb: HyperBand for BOHB (Ray's HyperBandForBOHB), paired with the 'bohb' strategy.

The scheduler runs HyperBand brackets; the TuneBOHB searcher proposes configs from
a model of the results so far. Ray requires the two together.
"""

from __future__ import annotations

from typing import Any

from raytuner.errors import SpecError
from raytuner.schedulers._hyperband import HyperBandScheduler
from raytuner.schedulers.base import ScheduleContext

PAIRED_STRATEGY = "bohb"


class BohbScheduler(HyperBandScheduler):
    name = "bohb"

    def check(self, ctx: ScheduleContext) -> None:
        if ctx.strategy != PAIRED_STRATEGY:
            raise SpecError.at(
                "scheduler.name",
                self.name,
                f"a scheduler that works with strategy.name {ctx.strategy!r}: scheduler '{self.name}' "
                f"(HyperBandForBOHB) only works with strategy.name '{PAIRED_STRATEGY}' (TuneBOHB); "
                "use scheduler 'hyperband' or 'asha' with other strategies",
            )
        super().check(ctx)

    def ray_class(self) -> Any:
        from raytuner.schedulers._brackets import RaytunerHyperBandForBOHB

        return RaytunerHyperBandForBOHB

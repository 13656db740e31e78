"""The harness's CPU rows as tests: one test per report row, green, red or skipped.

The whole harness runs once for the module (worker processes, ~2-3 minutes on the 2-core
development machine; ``RADAM_EQUIVALENCE_QUICK=1`` takes the ``--quick`` step counts),
then each test reports its row: a FAIL names the implementation, the configuration, the
step, the parameter and the element that left its bound; a SKIP says why.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.equivalence import harness
from tests.equivalence.registry import planned_rows
from tests.equivalence.results import FAIL, SKIP, RowResult

QUICK = os.environ.get("RADAM_EQUIVALENCE_QUICK", "") not in ("", "0")
ROWS = planned_rows()


def _test_id(key: str) -> str:
    """A row key as a readable test id: ``radam_torch.RAdam_fast/float32/mlp/presets``."""
    return re.sub(r"[^A-Za-z0-9._/-]+", "_", key.replace("|", "/")).strip("_")


@pytest.fixture(scope="module")
def results() -> dict[str, RowResult]:
    """Every CPU row, run once."""
    return {result.key: result for result in harness.run("cpu", quick=QUICK)}


@pytest.mark.slow
@pytest.mark.parametrize("key", [row.key for row in ROWS], ids=[_test_id(r.key) for r in ROWS])
def test_row(key: str, results: dict[str, RowResult]) -> None:
    row = results[key]
    if row.status == SKIP:
        pytest.skip(row.reason)
    if row.status == FAIL:
        pytest.fail(
            f"{row.implementation} ({row.dtype}) on {row.problem}, {row.group}: {row.reason}",
            pytrace=False,
        )

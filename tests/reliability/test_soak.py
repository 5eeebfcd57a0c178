"""The soak: many consecutive cycles on a changing ToteSys, the oracle after every one.

`make test` runs a short soak (SOAK_CYCLES=30 on SOAK_ORDERS=200 seeded orders); `make soak`
runs a long one. Between cycles the source changes as the business changes it, in turn:
the simulator's `advance` (new orders with transactions and payments, new designs, the
payments run, amendments, occasional dimension edits), a payments run alone, order
amendments alone, dimension edits alone (reaching joined dimensions), and nothing at all.
After every cycle: warehouse = oracle, lake through the catalog = warehouse, and every
ingested fact row is a fact record or a quarantined row.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from local.totesys import advance
from tests.reliability.changes import amend_sales_orders, edit_dimensions, flip_payments
from tests.reliability.rig import Rig

pytestmark = [pytest.mark.slow, pytest.mark.spark]

CYCLES = int(os.environ.get("SOAK_CYCLES", "30"))
ORDERS = int(os.environ.get("SOAK_ORDERS", "200"))
ADVANCE_HOURS = float(os.environ.get("SOAK_ADVANCE_HOURS", "3"))

Change = Callable[[Any, int], object]
SCHEDULE: tuple[tuple[str, Change], ...] = (
    ("advance", lambda src, i: advance(src, hours=ADVANCE_HOURS, seed=1000 + i)),
    ("payments run", lambda src, i: flip_payments(src, 3)),
    ("amendments", lambda src, i: amend_sales_orders(src, 2)),
    ("dimension edits", lambda src, i: edit_dimensions(src, i)),
    ("advance", lambda src, i: advance(src, hours=ADVANCE_HOURS, seed=1000 + i)),
    ("no change", lambda src, i: None),
)


def test_soak_every_cycle_matches_the_oracle(make_rig: Callable[..., Rig]) -> None:
    assert CYCLES >= 6, "the schedule needs at least one round of every kind of change"
    rig = make_rig(orders=ORDERS, seed_value=42)
    rig.cycle()
    rig.check()
    kinds: list[str] = []
    for i in range(1, CYCLES):
        kind, change = SCHEDULE[(i - 1) % len(SCHEDULE)]
        change(rig.source, i)
        before = len(rig.loaded_batches())
        report = rig.cycle()
        kinds.append(kind)
        rig.check()
        # A cycle with no change commits nothing anywhere; every other cycle loads one batch.
        expected_new = 0 if kind == "no change" else 1
        assert len(rig.loaded_batches()) == before + expected_new, (i, kind)
        assert len(report.ingest_batches) == expected_new, (i, kind)
    processed = rig.processed_manifests()
    assert len(processed) == len(rig.loaded_batches()) == CYCLES - kinds.count("no change")
    assert set(kinds) == {k for k, _ in SCHEDULE}

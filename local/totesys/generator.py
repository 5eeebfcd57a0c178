"""Seed a ToteSys database with a deterministic history of any size.

The history covers the real snapshot's period (2022-11-03 to 2024-11-15): reference data
loaded on the first day, then orders placed on weekdays 08:00-19:00 and the daily payments
run. Same `orders` and `seed`, same rows, byte for byte. Rows are drawn with numpy in
chunks of trading days and streamed with COPY, so memory stays flat whatever the size.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pg8000.native
import pyarrow as pa

from local.totesys import content, timeline
from local.totesys.bulk import copy_table
from local.totesys.orders import (
    DESIGNS_PER_SALES_ORDER,
    SALES_SHARE,
    draw_orders,
    payment_table,
    purchase_order_table,
    sales_order_table,
    transaction_table,
)
from local.totesys.schema import (
    ensure_empty_schema,
    foreign_keys_dropped,
    reset_sequences,
    row_counts,
)

CHUNK_ORDERS = 100_000
FIRST_DESIGNS = 10
SHARED_MS_SHARE = 0.03  # orders keyed in together: share the previous order's millisecond
RECEIPT_ID, PURCHASE_PAYMENT_ID = 1, 3  # payment_type ids, as seeded by content

# Streams of the seed's random generator, one per purpose, so that one table's draws
# never shift another's.
_REFERENCE, _SLOTS, _DESIGNS, _ORDERS = 0, 1, 2, 3


def design_count(orders: int) -> int:
    """~473 designs per 11,187 sales orders, at least the 10 loaded on the first day."""
    return max(FIRST_DESIGNS, round(orders * SALES_SHARE * DESIGNS_PER_SALES_ORDER))


def _slots() -> tuple[np.ndarray, np.ndarray]:
    """Start (epoch ms) and length (ms) of every trading day of the period."""
    days = timeline.trading_days()
    starts = days.astype("datetime64[ms]").astype(np.int64) + timeline.OPENS_MS
    return starts, timeline.trading_ms(days)


def _allocate(rng: np.random.Generator, total: int, lengths: np.ndarray) -> np.ndarray:
    """Split `total` events over slots in proportion to their lengths."""
    return rng.multinomial(total, lengths / lengths.sum()).astype(np.int64)


def _times(
    rng: np.random.Generator, starts: np.ndarray, lengths: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Sorted random instants (datetime64[ms]): counts[i] of them within slot i."""
    slot = np.repeat(np.arange(starts.size), counts)
    offsets = (rng.random(slot.size) * lengths[slot]).astype(np.int64)
    return np.sort(starts[slot] + offsets).astype("datetime64[ms]")


def _share_milliseconds(rng: np.random.Generator, created: np.ndarray) -> np.ndarray:
    """Give a few orders the previous order's exact timestamp, as batch entry does."""
    if created.size < 2:
        return created
    same = rng.random(created.size) < SHARED_MS_SHARE
    same[0] = False
    leaders = np.flatnonzero(~same)
    return created[leaders][np.cumsum(~same) - 1]


def _design_times(seed: int, total: int) -> np.ndarray:
    """When each design was created: 10 with the reference data, the rest while trading."""
    rng = np.random.default_rng([seed, _DESIGNS])
    first = np.full(min(FIRST_DESIGNS, total), timeline.REFERENCE_LOADED)
    starts, lengths = _slots()
    later = _times(rng, starts, lengths, _allocate(rng, total - first.size, lengths))
    return np.concatenate([first, later])


def _paid(orders_created: np.ndarray, payment_date: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which payments the history's daily runs flipped to paid, and when.

    The run goes at 07:55 on weekdays and pays what falls due that day: a payment due on
    a weekend, or due the day it was agreed (orders come in after 07:55), stays unpaid,
    as about 39% of the real payments do.
    """
    due = payment_date.astype("datetime64[D]")
    paid = (
        timeline.is_weekday(due)
        & (due > orders_created.astype("datetime64[D]"))
        & (due <= timeline.PERIOD_END.astype("datetime64[D]"))
    )
    return paid, np.where(paid, timeline.payments_run_at(due), orders_created)


def _order_chunks(seed: int, orders: int) -> Iterator[tuple[int, np.ndarray]]:
    """(chunk number, sorted order times) over the period, ~CHUNK_ORDERS per chunk."""
    rng = np.random.default_rng([seed, _SLOTS])
    first = min(timeline.FIRST_ORDER_COUNT, orders)
    starts, lengths = _slots()
    starts = np.concatenate([[timeline.FIRST_ORDERS.astype(np.int64)], starts])
    lengths = np.concatenate([[3], lengths])  # the first orders land within 3 ms
    counts = np.concatenate([[first], _allocate(rng, orders - first, lengths[1:])])
    chunk, begin, filled = 0, 0, 0
    for end in range(1, counts.size + 1):
        filled += int(counts[end - 1])
        if filled >= CHUNK_ORDERS or end == counts.size:
            chunk_rng = np.random.default_rng([seed, _ORDERS, chunk, 0])
            created = _times(chunk_rng, starts[begin:end], lengths[begin:end], counts[begin:end])
            yield chunk, _share_milliseconds(chunk_rng, created)
            chunk, begin, filled = chunk + 1, end, 0


def _seed_reference(conn: pg8000.native.Connection, seed: int) -> None:
    rng = np.random.default_rng([seed, _REFERENCE])
    reference, people = timeline.REFERENCE_LOADED, timeline.PEOPLE_LOADED
    copy_table(conn, "address", content.build_addresses(rng, reference))
    copy_table(conn, "currency", content.build_currencies(reference))
    copy_table(conn, "department", content.build_departments(rng, reference))
    copy_table(conn, "payment_type", content.build_payment_types(reference))
    copy_table(conn, "counterparty", content.build_counterparties(rng, people))
    copy_table(conn, "staff", content.build_staff(rng, people))
    conn.run(
        "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, "
        "started_at, applied_steps_count) VALUES (:id, :checksum, :at, :name, :at, 1)",
        id="7b0c6d0e-3f6a-4c43-9d1e-2a5b8c9d0e1f",
        checksum="0" * 64,
        at="2022-11-03 14:20:48.512+00",
        name="20221103142048_init",
    )


def _seed_orders(conn: pg8000.native.Connection, seed: int, orders: int) -> None:
    design_created = _design_times(seed, design_count(orders))
    design_rng = np.random.default_rng([seed, _DESIGNS, 1])
    copy_table(conn, "design", content.build_designs(design_rng, 1, design_created))
    ids = np.arange(1, 31)
    next_sales = next_purchase = next_transaction = 1
    for chunk, created in _order_chunks(seed, orders):
        rng = np.random.default_rng([seed, _ORDERS, chunk, 1])
        # A sales order uses a design that exists when it is placed.
        available = np.searchsorted(design_created, created, side="right")
        design_id = 1 + (rng.random(created.size) * available).astype(np.int64)
        batch = draw_orders(
            rng,
            created,
            first_ids=(next_transaction, next_transaction, next_sales, next_purchase),
            design_id=design_id,
            staff_ids=ids[: content.STAFF_COUNT],
            counterparty_ids=ids[: content.COUNTERPARTY_COUNT],
            currency_ids=ids[: len(content.CURRENCIES)],
            address_ids=ids[: content.ADDRESS_COUNT],
        )
        paid, paid_at = _paid(batch.created, batch.payment_date)
        tables: list[tuple[str, pa.Table]] = [
            ("sales_order", sales_order_table(batch)),
            ("purchase_order", purchase_order_table(batch)),
            ("transaction", transaction_table(batch)),
            (
                "payment",
                payment_table(
                    batch,
                    paid=paid,
                    last_updated=paid_at,
                    payment_type_ids=(RECEIPT_ID, PURCHASE_PAYMENT_ID),
                ),
            ),
        ]
        for table, data in tables:
            copy_table(conn, table, data)
        sales = int(batch.is_sale.sum())
        next_sales += sales
        next_purchase += created.size - sales
        next_transaction += created.size


def seed(conn: pg8000.native.Connection, orders: int, seed: int) -> dict[str, int]:
    """Fill empty ToteSys tables (creating them if absent) with `orders` orders of history.

    All or nothing: one transaction. Returns the row count of every table.
    """
    if orders < 0:
        raise ValueError("orders must be >= 0")
    ensure_empty_schema(conn)
    conn.run("BEGIN")
    try:
        with foreign_keys_dropped(conn):
            _seed_reference(conn, seed)
            _seed_orders(conn, seed, orders)
        reset_sequences(conn)
        conn.run("COMMIT")
    except BaseException:
        conn.run("ROLLBACK")
        raise
    conn.run("ANALYZE")
    return row_counts(conn)

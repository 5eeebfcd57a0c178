"""Let simulated business time pass on a live ToteSys database, between pipeline cycles.

Every row `advance` writes carries `last_updated` = the transaction's now() (UTC wall
clock) truncated to the millisecond, so it is never ahead of the database clock and an
ingest window `[lo, now() - lag)` catches it. What happens is drawn from the seed and the
database's state (the same seed on the same database does the same things); only the
clock (the business date, which payments fall due) comes from the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pg8000.native
import pyarrow as pa

from local.totesys import content, timeline
from local.totesys.bulk import copy_table
from local.totesys.exceptions import NotSeededError
from local.totesys.orders import (
    DESIGNS_PER_SALES_ORDER,
    ITEM_PRICE_CENTS,
    ITEM_QUANTITY,
    SALES_SHARE,
    UNIT_PRICE_CENTS,
    UNITS_SOLD,
    draw_orders,
    payment_table,
    purchase_order_table,
    sales_order_table,
    transaction_table,
)
from local.totesys.schema import TABLES, require_schema
from pipeline_common.postgres import quote_identifier

REAL_ORDERS = 15836  # orders in the real snapshot's period: the rate of a small database
AMENDED_SHARE = 0.02  # orders amended, per order placed
AMENDABLE_RECENT = 5000  # amendments touch the most recent orders still unpaid
EDITS_PER_HOUR = 1 / 12  # each kind of dimension edit, about twice a simulated day
PAYMENTS_LOOKBACK_DAYS = 7  # the payments run catches up a week; older debts stay unpaid


@dataclass
class _State:
    now: np.datetime64  # ms
    business_date: dt.date
    orders: int
    max_transaction_id: int
    staff_ids: np.ndarray
    counterparty_ids: np.ndarray
    currency_ids: np.ndarray
    address_ids: np.ndarray
    department_ids: np.ndarray
    design_ids: np.ndarray
    payment_type_ids: tuple[int, int]


def _ids(conn: pg8000.native.Connection, table: str) -> np.ndarray:
    key = quote_identifier(f"{table}_id")
    rows = conn.run(
        f"SELECT coalesce(array_agg({key} ORDER BY {key}), '{{}}') "  # nosec B608
        f"FROM {quote_identifier(table)}"
    )
    return np.asarray(rows[0][0], dtype=np.int64)


def _read_state(conn: pg8000.native.Connection) -> _State:
    now, today = conn.run(
        "SELECT date_trunc('milliseconds', now() AT TIME ZONE 'UTC'), "
        "(now() AT TIME ZONE 'UTC')::date"
    )[0]
    orders = conn.run(
        "SELECT (SELECT count(*) FROM sales_order) + (SELECT count(*) FROM purchase_order), "
        'coalesce((SELECT max(transaction_id) FROM "transaction"), 0)'
    )[0]
    types = dict(conn.run("SELECT payment_type_name::text, payment_type_id FROM payment_type"))
    state = _State(
        now=np.datetime64(now, "ms"),
        business_date=today,
        orders=int(orders[0]),
        max_transaction_id=int(orders[1]),
        staff_ids=_ids(conn, "staff"),
        counterparty_ids=_ids(conn, "counterparty"),
        currency_ids=_ids(conn, "currency"),
        address_ids=_ids(conn, "address"),
        department_ids=_ids(conn, "department"),
        design_ids=_ids(conn, "design"),
        payment_type_ids=(types.get("SALES_RECEIPT", 0), types.get("PURCHASE_PAYMENT", 0)),
    )
    needed = ("staff", "counterparty", "currency", "address", "department")
    empty = [name for name in needed if getattr(state, f"{name}_ids").size == 0]
    if empty or 0 in state.payment_type_ids:
        raise NotSeededError(
            f"ToteSys reference data missing ({empty or 'payment_type'}); seed first"
        )
    return state


def orders_per_hour(orders: int) -> float:
    """The seeded history's rate of orders per trading hour (at least the real system's)."""
    return max(orders, REAL_ORDERS) / timeline.trading_hours()


def _reserve(conn: pg8000.native.Connection, table: str, count: int) -> np.ndarray:
    """Take `count` ids from the table's sequence."""
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    rows = conn.run(
        "SELECT nextval(pg_get_serial_sequence(:table, :key)) FROM generate_series(1, :n)",
        table=quote_identifier(table),
        key=f"{table}_id",
        n=count,
    )
    return np.asarray([row[0] for row in rows], dtype=np.int64)


def _flip_due_payments(conn: pg8000.native.Connection, state: _State) -> int:
    """The payments run: what fell due in the last week and is unpaid gets paid."""
    first = state.business_date - dt.timedelta(days=PAYMENTS_LOOKBACK_DAYS)
    rows = conn.run(
        "UPDATE payment SET paid = true, last_updated = :now "
        "WHERE NOT paid AND payment_date <= :today AND payment_date >= :first "
        "AND last_updated < :now RETURNING payment_id",
        now=state.now.item(),
        today=state.business_date.isoformat(),
        first=first.isoformat(),
    )
    return len(rows)


def _insert_designs(
    conn: pg8000.native.Connection, rng: np.random.Generator, state: _State, count: int
) -> np.ndarray:
    ids = _reserve(conn, "design", count)
    if count:
        table = content.build_designs(rng, 0, np.full(count, state.now))
        table = table.set_column(0, "design_id", pa.array(ids.astype(np.int32)))
        copy_table(conn, "design", table)
    return ids


def _insert_orders(
    conn: pg8000.native.Connection, rng: np.random.Generator, state: _State, count: int
) -> dict[str, int]:
    created = np.full(count, state.now, dtype="datetime64[ms]")
    designs = state.design_ids
    design_id = designs[rng.integers(0, designs.size, count)] if designs.size else np.zeros(count)
    batch = draw_orders(
        rng,
        created,
        first_ids=(0, 0, 0, 0),
        design_id=design_id,
        staff_ids=state.staff_ids,
        counterparty_ids=state.counterparty_ids,
        currency_ids=state.currency_ids,
        address_ids=state.address_ids,
    )
    sales = int(batch.is_sale.sum())
    batch.transaction_id = _reserve(conn, "transaction", count)
    batch.payment_id = _reserve(conn, "payment", count)
    order_id = np.zeros(count, dtype=np.int64)
    order_id[batch.is_sale] = _reserve(conn, "sales_order", sales)
    order_id[~batch.is_sale] = _reserve(conn, "purchase_order", count - sales)
    batch.order_id = order_id
    payments = payment_table(
        batch,
        paid=np.zeros(count, dtype=bool),
        last_updated=created,
        payment_type_ids=state.payment_type_ids,
    )
    return {
        "sales_order": copy_table(conn, "sales_order", sales_order_table(batch)),
        "purchase_order": copy_table(conn, "purchase_order", purchase_order_table(batch)),
        "transaction": copy_table(conn, "transaction", transaction_table(batch)),
        "payment": copy_table(conn, "payment", payments),
    }


def _cents(values: np.ndarray) -> list[Decimal]:
    return [Decimal(int(v)).scaleb(-2) for v in values]


# Per kind of order: key, quantity column, price column, quantity range, price range (cents).
_ORDER_KINDS = {
    "sales_order": ("sales_order_id", "units_sold", "unit_price", UNITS_SOLD, UNIT_PRICE_CENTS),
    "purchase_order": (
        "purchase_order_id",
        "item_quantity",
        "item_unit_price",
        ITEM_QUANTITY,
        ITEM_PRICE_CENTS,
    ),
}


def _amend_orders(
    conn: pg8000.native.Connection, rng: np.random.Generator, state: _State, table: str, count: int
) -> tuple[int, int]:
    """Amend unpaid recent orders: new quantity and price, dates pushed back; the payment
    follows (amount = quantity x price, payment date = agreed payment date)."""
    if count == 0:
        return 0, 0
    key, quantity, price, quantity_range, price_range = _ORDER_KINDS[table]
    t, k = quote_identifier(table), quote_identifier(key)
    candidates = conn.run(
        f"SELECT o.{k} FROM {t} o "  # nosec B608
        f'JOIN "transaction" tr ON tr.{k} = o.{k} '
        "JOIN payment p ON p.transaction_id = tr.transaction_id "
        "WHERE NOT p.paid AND o.last_updated < :now AND p.last_updated < :now "
        f"AND o.{k} > (SELECT max({k}) FROM {t}) - :recent ORDER BY o.{k}",
        now=state.now.item(),
        recent=AMENDABLE_RECENT,
    )
    pool = np.asarray([row[0] for row in candidates], dtype=np.int64)
    if pool.size == 0:
        return 0, 0
    chosen = np.sort(rng.choice(pool, size=min(count, pool.size), replace=False))
    size = chosen.size
    quantities = rng.integers(quantity_range[0], quantity_range[1] + 1, size)
    prices = rng.integers(price_range[0], price_range[1] + 1, size)
    payment_shift = rng.integers(0, 4, size)
    delivery_shift = rng.integers(1, 6, size)
    q, p = quote_identifier(quantity), quote_identifier(price)
    amended = conn.run(
        f"UPDATE {t} o SET {q} = v.quantity, {p} = v.price, "  # nosec B608
        "agreed_payment_date = (o.agreed_payment_date::date + v.pay_shift)::text, "
        "agreed_delivery_date = (o.agreed_delivery_date::date + v.delivery_shift)::text, "
        "last_updated = :now "
        "FROM unnest(CAST(:ids AS int[]), CAST(:quantities AS int[]), "
        "CAST(:prices AS numeric[]), CAST(:pay_shifts AS int[]), "
        "CAST(:delivery_shifts AS int[])) AS v(id, quantity, price, pay_shift, delivery_shift) "
        f"WHERE o.{k} = v.id RETURNING o.{k}",
        now=state.now.item(),
        ids=chosen.tolist(),
        quantities=quantities.tolist(),
        prices=_cents(prices),
        pay_shifts=payment_shift.tolist(),
        delivery_shifts=delivery_shift.tolist(),
    )
    payments = conn.run(
        f"UPDATE payment p SET payment_amount = o.{q} * o.{p}, "  # nosec B608
        "payment_date = o.agreed_payment_date, last_updated = :now "
        f'FROM "transaction" tr JOIN {t} o ON o.{k} = tr.{k} '
        f"WHERE p.transaction_id = tr.transaction_id AND o.{k} = ANY(:ids) "
        "RETURNING p.payment_id",
        now=state.now.item(),
        ids=chosen.tolist(),
    )
    return len(amended), len(payments)


def _pick(rng: np.random.Generator, ids: np.ndarray, count: int) -> list[int]:
    return sorted(int(i) for i in rng.choice(ids, size=min(count, ids.size), replace=False))


def _edit_dimensions(
    conn: pg8000.native.Connection, rng: np.random.Generator, state: _State, hours: float
) -> dict[str, int]:
    """Now and then a phone, a department's location, a name or a legal address changes."""
    counts = rng.poisson(hours * EDITS_PER_HOUR, 4)
    now = state.now.item()
    edited = {"address": 0, "department": 0, "staff": 0, "counterparty": 0}
    for address_id in _pick(rng, state.address_ids, int(counts[0])):
        edited["address"] += len(
            conn.run(
                "UPDATE address SET phone = :phone, last_updated = :now "
                "WHERE address_id = :id AND last_updated < :now RETURNING address_id",
                phone=content.phone_number(rng),
                now=now,
                id=address_id,
            )
        )
    for department_id in _pick(rng, state.department_ids, int(counts[1])):
        location = content.LOCATIONS[int(rng.integers(0, len(content.LOCATIONS)))]
        edited["department"] += len(
            conn.run(
                "UPDATE department SET location = :location, last_updated = :now "
                "WHERE department_id = :id AND last_updated < :now RETURNING department_id",
                location=location,
                now=now,
                id=department_id,
            )
        )
    for staff_id in _pick(rng, state.staff_ids, int(counts[2])):
        last_name = content.LAST_NAMES[int(rng.integers(0, len(content.LAST_NAMES)))]
        first_name = conn.run("SELECT first_name FROM staff WHERE staff_id = :id", id=staff_id)
        edited["staff"] += len(
            conn.run(
                "UPDATE staff SET last_name = :last, email_address = :email, last_updated = :now "
                "WHERE staff_id = :id AND last_updated < :now RETURNING staff_id",
                last=last_name,
                email=content.email_address(first_name[0][0], last_name),
                now=now,
                id=staff_id,
            )
        )
    for counterparty_id in _pick(rng, state.counterparty_ids, int(counts[3])):
        current = conn.run(
            "SELECT legal_address_id FROM counterparty WHERE counterparty_id = :id",
            id=counterparty_id,
        )[0][0]
        others = state.address_ids[state.address_ids != current]
        if others.size == 0:
            continue
        edited["counterparty"] += len(
            conn.run(
                "UPDATE counterparty SET legal_address_id = :address, last_updated = :now "
                "WHERE counterparty_id = :id AND last_updated < :now RETURNING counterparty_id",
                address=int(others[rng.integers(0, others.size)]),
                now=now,
                id=counterparty_id,
            )
        )
    return edited


def advance(conn: pg8000.native.Connection, hours: float, seed: int) -> dict[str, Any]:
    """Let `hours` of trading pass now: new orders (with transaction and payment), new
    designs, the payments run, order amendments and dimension edits, in one transaction.

    Returns {"last_updated", "business_date", "hours", "inserts": {table: n},
    "updates": {table: n}}; every table appears in both counts.
    """
    if hours < 0:
        raise ValueError("hours must be >= 0")
    require_schema(conn)
    inserts = dict.fromkeys(TABLES, 0)
    updates = dict.fromkeys(TABLES, 0)
    conn.run("BEGIN")
    try:
        state = _read_state(conn)
        rng = np.random.default_rng([seed, state.max_transaction_id, int(state.design_ids.size)])
        new_orders = int(rng.poisson(orders_per_hour(state.orders) * hours))
        new_designs = int(rng.poisson(new_orders * SALES_SHARE * DESIGNS_PER_SALES_ORDER))
        if new_orders and state.design_ids.size == 0:
            new_designs = max(new_designs, 1)  # a sales order needs a design to exist
        amend_rate = orders_per_hour(state.orders) * hours * AMENDED_SHARE
        amendments = rng.poisson([amend_rate * SALES_SHARE, amend_rate * (1 - SALES_SHARE)])

        updates["payment"] += _flip_due_payments(conn, state)
        for table, count in zip(("sales_order", "purchase_order"), amendments, strict=True):
            amended, payments = _amend_orders(conn, rng, state, table, int(count))
            updates[table] += amended
            updates["payment"] += payments
        for table, count in _edit_dimensions(conn, rng, state, hours).items():
            updates[table] += count

        designs = _insert_designs(conn, rng, state, new_designs)
        inserts["design"] = int(designs.size)
        state.design_ids = np.concatenate([state.design_ids, designs])
        inserts.update(_insert_orders(conn, rng, state, new_orders))
        conn.run("COMMIT")
    except BaseException:
        conn.run("ROLLBACK")
        raise
    return {
        "last_updated": str(state.now.astype("datetime64[ms]")).replace("T", " "),
        "business_date": state.business_date.isoformat(),
        "hours": hours,
        "inserts": inserts,
        "updates": updates,
    }

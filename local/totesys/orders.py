"""Orders with their transaction and payment: drawn as numpy arrays, written as Arrow tables.

The seed and the simulator both place orders through here, so both follow the real data:
- 70.6% sales orders (11187 of 15836), the rest purchase orders;
- sales: units 1,000-100,000 at 2.00-4.00; purchases: 1-999 items at 3.00-1,000.00;
- payment agreed 0-6 days and delivery 0-7 days after the order (0 and the last day half as
  likely, as in the real data), plus a rare long tail of deliveries up to two years out;
- one transaction and one payment per order, created in the same millisecond as the order,
  with the order's counterparty and currency; payment amount = quantity x unit price;
  payment type SALES_RECEIPT or PURCHASE_PAYMENT; random 8-digit account numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from local.totesys.bulk import date_texts, money_from_cents, timestamps

SALES_SHARE = 11187 / 15836
DESIGNS_PER_SALES_ORDER = 473 / 11187
UNITS_SOLD = (1_000, 100_000)
UNIT_PRICE_CENTS = (200, 400)
ITEM_QUANTITY = (1, 999)
ITEM_PRICE_CENTS = (300, 100_000)
PAYMENT_DAYS = 6
DELIVERY_DAYS = 7
LONG_TAIL_SHARE = 0.0057  # 64 of the real 11187 sales orders are delivered after 7+ days
LONG_TAIL_DAYS = (8, 730)
AC_NUMBER = (10_000_000, 99_999_999)
ITEM_CODE_CHARS = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8)
ITEM_CODE_LENGTH = 7


@dataclass
class Orders:
    """One batch of orders in time order; index i is one order, its transaction and payment."""

    created: np.ndarray  # datetime64[ms]
    is_sale: np.ndarray
    transaction_id: np.ndarray
    payment_id: np.ndarray
    order_id: np.ndarray  # sales_order_id for sales, purchase_order_id for purchases
    design_id: np.ndarray  # meaningful for sales only
    staff_id: np.ndarray
    counterparty_id: np.ndarray
    currency_id: np.ndarray
    location_id: np.ndarray
    quantity: np.ndarray  # units_sold or item_quantity
    price_cents: np.ndarray  # unit_price or item_unit_price, in cents
    item_code: np.ndarray  # bytes, meaningful for purchases only
    delivery_date: np.ndarray  # datetime64[D]
    payment_date: np.ndarray  # datetime64[D]
    company_ac_number: np.ndarray
    counterparty_ac_number: np.ndarray

    @property
    def amount_cents(self) -> np.ndarray:
        return self.quantity * self.price_cents


def _one_of(rng: np.random.Generator, ids: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(ids, dtype=np.int64)[rng.integers(0, len(ids), size)]


def agreed_offsets(rng: np.random.Generator, size: int, days: int) -> np.ndarray:
    """Whole days 0..days, the two ends half as likely (a rounded uniform, as observed)."""
    return np.rint(rng.uniform(0, days, size)).astype(np.int64)


def draw_orders(
    rng: np.random.Generator,
    created: np.ndarray,
    *,
    first_ids: tuple[int, int, int, int],
    design_id: np.ndarray,
    staff_ids: np.ndarray,
    counterparty_ids: np.ndarray,
    currency_ids: np.ndarray,
    address_ids: np.ndarray,
) -> Orders:
    """Draw a batch of orders placed at `created` (sorted).

    `first_ids` are the next transaction, payment, sales order and purchase order ids;
    `design_id` is the design of each order (used by sales only).
    """
    size = created.size
    first_transaction, first_payment, first_sales, first_purchase = first_ids
    is_sale = rng.random(size) < SALES_SHARE
    units = rng.integers(UNITS_SOLD[0], UNITS_SOLD[1] + 1, size)
    unit_price = rng.integers(UNIT_PRICE_CENTS[0], UNIT_PRICE_CENTS[1] + 1, size)
    items = rng.integers(ITEM_QUANTITY[0], ITEM_QUANTITY[1] + 1, size)
    item_price = rng.integers(ITEM_PRICE_CENTS[0], ITEM_PRICE_CENTS[1] + 1, size)
    codes = ITEM_CODE_CHARS[rng.integers(0, ITEM_CODE_CHARS.size, (size, ITEM_CODE_LENGTH))]
    delivery = agreed_offsets(rng, size, DELIVERY_DAYS)
    tail = rng.random(size) < LONG_TAIL_SHARE
    tail_days = rng.integers(LONG_TAIL_DAYS[0], LONG_TAIL_DAYS[1] + 1, size)
    delivery = np.where(tail, tail_days, delivery)
    payment = agreed_offsets(rng, size, PAYMENT_DAYS)
    day = created.astype("datetime64[D]")
    sales_seq = np.cumsum(is_sale) - 1
    purchase_seq = np.cumsum(~is_sale) - 1
    steps = np.arange(size, dtype=np.int64)
    return Orders(
        created=created.astype("datetime64[ms]"),
        is_sale=is_sale,
        transaction_id=first_transaction + steps,
        payment_id=first_payment + steps,
        order_id=np.where(is_sale, first_sales + sales_seq, first_purchase + purchase_seq),
        design_id=np.asarray(design_id, dtype=np.int64),
        staff_id=_one_of(rng, staff_ids, size),
        counterparty_id=_one_of(rng, counterparty_ids, size),
        currency_id=_one_of(rng, currency_ids, size),
        location_id=_one_of(rng, address_ids, size),
        quantity=np.where(is_sale, units, items),
        price_cents=np.where(is_sale, unit_price, item_price),
        item_code=codes.view(f"S{ITEM_CODE_LENGTH}").ravel(),
        delivery_date=day + delivery.astype("timedelta64[D]"),
        payment_date=day + payment.astype("timedelta64[D]"),
        company_ac_number=rng.integers(AC_NUMBER[0], AC_NUMBER[1] + 1, size),
        counterparty_ac_number=rng.integers(AC_NUMBER[0], AC_NUMBER[1] + 1, size),
    )


def _int32(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int32))


def sales_order_table(orders: Orders) -> pa.Table:
    """The sales_order rows of the batch."""
    sel = orders.is_sale
    created = timestamps(orders.created[sel])
    return pa.table(
        {
            "sales_order_id": _int32(orders.order_id[sel]),
            "created_at": created,
            "last_updated": created,
            "design_id": _int32(orders.design_id[sel]),
            "staff_id": _int32(orders.staff_id[sel]),
            "counterparty_id": _int32(orders.counterparty_id[sel]),
            "units_sold": _int32(orders.quantity[sel]),
            "unit_price": money_from_cents(orders.price_cents[sel]),
            "currency_id": _int32(orders.currency_id[sel]),
            "agreed_delivery_date": date_texts(orders.delivery_date[sel]),
            "agreed_payment_date": date_texts(orders.payment_date[sel]),
            "agreed_delivery_location_id": _int32(orders.location_id[sel]),
        }
    )


def purchase_order_table(orders: Orders) -> pa.Table:
    """The purchase_order rows of the batch."""
    sel = ~orders.is_sale
    created = timestamps(orders.created[sel])
    return pa.table(
        {
            "purchase_order_id": _int32(orders.order_id[sel]),
            "created_at": created,
            "last_updated": created,
            "staff_id": _int32(orders.staff_id[sel]),
            "counterparty_id": _int32(orders.counterparty_id[sel]),
            "item_code": pa.array(orders.item_code[sel], type=pa.binary()).cast(pa.string()),
            "item_quantity": _int32(orders.quantity[sel]),
            "item_unit_price": money_from_cents(orders.price_cents[sel]),
            "currency_id": _int32(orders.currency_id[sel]),
            "agreed_delivery_date": date_texts(orders.delivery_date[sel]),
            "agreed_payment_date": date_texts(orders.payment_date[sel]),
            "agreed_delivery_location_id": _int32(orders.location_id[sel]),
        }
    )


def transaction_table(orders: Orders) -> pa.Table:
    """One SALE or PURCHASE transaction per order."""
    created = timestamps(orders.created)
    kinds = pc.if_else(pa.array(orders.is_sale), "SALE", "PURCHASE")
    return pa.table(
        {
            "transaction_id": _int32(orders.transaction_id),
            "transaction_type": kinds,
            "sales_order_id": pa.array(
                orders.order_id.astype(np.int32), mask=~orders.is_sale, type=pa.int32()
            ),
            "purchase_order_id": pa.array(
                orders.order_id.astype(np.int32), mask=orders.is_sale, type=pa.int32()
            ),
            "created_at": created,
            "last_updated": created,
        }
    )


def payment_table(
    orders: Orders,
    *,
    paid: np.ndarray,
    last_updated: np.ndarray,
    payment_type_ids: tuple[int, int],
) -> pa.Table:
    """One payment per order; `payment_type_ids` = (SALES_RECEIPT, PURCHASE_PAYMENT) ids."""
    receipt, purchase_payment = payment_type_ids
    return pa.table(
        {
            "payment_id": _int32(orders.payment_id),
            "created_at": timestamps(orders.created),
            "last_updated": timestamps(last_updated),
            "transaction_id": _int32(orders.transaction_id),
            "counterparty_id": _int32(orders.counterparty_id),
            "payment_amount": money_from_cents(orders.amount_cents),
            "currency_id": _int32(orders.currency_id),
            "payment_type_id": _int32(np.where(orders.is_sale, receipt, purchase_payment)),
            "paid": pa.array(np.asarray(paid, dtype=bool)),
            "payment_date": date_texts(orders.payment_date),
            "company_ac_number": _int32(orders.company_ac_number),
            "counterparty_ac_number": _int32(orders.counterparty_ac_number),
        }
    )

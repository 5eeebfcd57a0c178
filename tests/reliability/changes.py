"""Changes made to ToteSys between cycles, besides the simulator's `advance`.

Each is what the business does (a payments run, an amended order, a department moving) and
stamps `last_updated` with the database clock cut to the millisecond, as ToteSys does.
Each returns the ids it touched, so a test can say what must flow.
"""

from __future__ import annotations

from typing import Any

import pg8000.native

NOW = "date_trunc('milliseconds', now() AT TIME ZONE 'UTC')"


def _ids(rows: list[list[Any]]) -> list[int]:
    return sorted(int(row[0]) for row in rows)


def flip_payments(source: pg8000.native.Connection, count: int) -> list[int]:
    """A payments run: `count` unpaid payments become paid (lowest ids first)."""
    return _ids(
        source.run(
            f"UPDATE payment SET paid = true, last_updated = {NOW} WHERE payment_id IN "
            "(SELECT payment_id FROM payment WHERE NOT paid ORDER BY payment_id LIMIT :n) "
            "RETURNING payment_id",
            n=count,
        )
    )


def amend_sales_orders(source: pg8000.native.Connection, count: int) -> list[int]:
    """The newest `count` sales orders change quantity and dates; their payments follow."""
    ids = _ids(
        source.run(
            f"UPDATE sales_order SET units_sold = units_sold + 1, "
            "agreed_payment_date = (agreed_payment_date::date + 1)::text, "
            f"agreed_delivery_date = (agreed_delivery_date::date + 2)::text, last_updated = {NOW} "
            "WHERE sales_order_id IN (SELECT sales_order_id FROM sales_order "
            "ORDER BY sales_order_id DESC LIMIT :n) RETURNING sales_order_id",
            n=count,
        )
    )
    source.run(
        f"UPDATE payment p SET payment_amount = o.units_sold * o.unit_price, "
        f"payment_date = o.agreed_payment_date, last_updated = {NOW} "
        'FROM "transaction" t JOIN sales_order o USING (sales_order_id) '
        "WHERE p.transaction_id = t.transaction_id AND o.sales_order_id = ANY(:ids)",
        ids=ids,
    )
    return ids


def edit_dimensions(source: pg8000.native.Connection, step: int) -> dict[str, list[int]]:
    """A department moves, an address changes, a counterparty moves, a design is renamed.

    Each edit reaches a joined dimension too: dim_staff through department, dim_counterparty
    through address.
    """
    return {
        "department": _ids(
            source.run(
                f"UPDATE department SET location = :loc, last_updated = {NOW} "
                "WHERE department_id = (SELECT min(department_id) FROM department) + :k % 3 "
                "RETURNING department_id",
                loc=f"Floor {step}",
                k=step,
            )
        ),
        "address": _ids(
            source.run(
                f"UPDATE address SET address_line_2 = :line, last_updated = {NOW} "
                "WHERE address_id IN (SELECT legal_address_id FROM counterparty "
                "ORDER BY counterparty_id LIMIT 1 OFFSET :k % 5) RETURNING address_id",
                line=f"Unit {step}",
                k=step,
            )
        ),
        "counterparty": _ids(
            source.run(
                "UPDATE counterparty SET legal_address_id = (SELECT address_id FROM address "
                f"ORDER BY address_id LIMIT 1 OFFSET :k % 7), last_updated = {NOW} "
                "WHERE counterparty_id = (SELECT max(counterparty_id) FROM counterparty) "
                "RETURNING counterparty_id",
                k=step,
            )
        ),
        "design": _ids(
            source.run(
                f"UPDATE design SET design_name = :name, last_updated = {NOW} "
                "WHERE design_id = (SELECT min(design_id) FROM design) RETURNING design_id",
                name=f"Renamed {step}",
            )
        ),
    }

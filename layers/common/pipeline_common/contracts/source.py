"""The ToteSys side of the contract: the tables that are read, and the column that orders
their changes (docs/contracts.md section 1)."""

from __future__ import annotations

TOTESYS_TABLES: tuple[str, ...] = (
    "address",
    "counterparty",
    "currency",
    "department",
    "design",
    "payment_type",
    "staff",
    "sales_order",
    "purchase_order",
    "transaction",
    "payment",
)
"""The 11 ToteSys tables, parents before children (a table follows every table it
references). The allow-list: every SQL identifier for a table comes from here, never from
configuration text."""

WATERMARK_COLUMN = "last_updated"
"""Each source table's change timestamp: a window `[lo, hi)` is taken on it."""

"""Hostile and bad input, end to end: a clear error or a quarantined row, the rest flows.

One pipeline for the module, over a source seeded with reference data but no orders (so
the first cycle meets empty tables). Each test puts one kind of bad input into ToteSys (or
the pipeline's configuration, or its buckets) and runs whole cycles; after each, warehouse
= oracle, lake = warehouse, and every ingested fact row is a fact record or a quarantined
row with its reason. The oracle expects quarantine where the contract says so, on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from local import wiring
from local.lambda_runtime import unload_handlers
from local.runner import StageError
from local.statedir import NAMES
from local.totesys import TABLES, advance
from tests.reliability.changes import NOW
from tests.reliability.conftest import CAPTURED_OUTPUT
from tests.reliability.hostile import HOSTILE, insert_hostile_rows, new_sales_order
from tests.reliability.oracle import ISO_NAMES
from tests.reliability.rig import Rig

pytestmark = [pytest.mark.slow, pytest.mark.spark]

MEGABYTE = 1 << 20
# The warehouse's text columns that come from ToteSys text columns.
TEXT_COLUMNS = {
    "dim_staff": ("first_name", "last_name", "department_name", "location", "email_address"),
    "dim_location": (
        "address_line_1",
        "address_line_2",
        "district",
        "city",
        "postal_code",
        "country",
        "phone",
    ),
    "dim_design": ("design_name", "file_location", "file_name"),
    "dim_counterparty": ("counterparty_legal_name",),
    "fact_purchase_order": ("item_code",),
}


@pytest.fixture(scope="module")
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig(orders=0, seed_value=3)


def _source_tables(rig: Rig) -> list[str]:
    return sorted(
        r[0]
        for r in rig.source.run(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'"
        )
    )


def _fact_rows(rig: Rig) -> dict[str, int]:
    conn = rig.warehouse()
    try:
        return {
            t: conn.run(f"SELECT count(*) FROM {t}")[0][0]
            for t in ("fact_sales_order", "fact_purchase_order", "fact_payment")
        }
    finally:
        conn.close()


def _quarantined(rig: Rig, table: str) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(rig.lake.glob(f"_quarantine/*/{table}/*.json")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def test_empty_tables_flow_as_empty_then_the_first_orders_flow(rig: Rig) -> None:
    rig.cycle()
    first = rig.ingest_manifests()[-1]
    empty = {"sales_order", "purchase_order", "transaction", "payment"}
    assert not empty & set(first["tables"])
    assert set(first["watermarks"]) == set(TABLES)  # an empty table's window still advances
    assert _fact_rows(rig) == dict.fromkeys(_fact_rows(rig), 0)
    rig.check()

    advance(rig.source, hours=8, seed=21)
    rig.cycle()
    assert all(_fact_rows(rig).values())
    rig.check()


def test_injection_text_in_every_text_column_arrives_byte_for_byte(rig: Rig) -> None:
    tables = _source_tables(rig)
    ids = insert_hostile_rows(rig.source)
    rig.cycle()
    rig.check()  # every dimension row for row: each hostile value exactly as written
    assert _source_tables(rig) == tables
    conn = rig.warehouse()
    try:
        held: set[str] = set()
        for table, columns in TEXT_COLUMNS.items():
            for column in columns:
                held |= {r[0] for r in conn.run(f"SELECT {column} FROM {table}")}
        [[names]] = conn.run(
            "SELECT count(*) FROM dim_location WHERE location_id = ANY(:ids)", ids=ids["address"]
        )
        batches = conn.run("SELECT count(*) FROM etl_loaded_batch")[0][0]
    finally:
        conn.close()
    assert set(HOSTILE) <= held, set(HOSTILE) - held
    assert names == 4 and batches == len(rig.processed_manifests())


def test_a_megabyte_of_text_in_one_value_flows_whole(rig: Rig) -> None:
    big = ('He said "1,2\n3"; DROP TABLE x; -- ' * (MEGABYTE // 32 + 1))[:MEGABYTE]
    rig.source.run(
        f"UPDATE design SET design_name = :v, last_updated = {NOW} "
        "WHERE design_id = (SELECT max(design_id) FROM design)",
        v=big,
    )
    rig.cycle()
    rig.check()
    conn = rig.warehouse()
    try:
        [[length]] = conn.run("SELECT max(length(design_name)) FROM dim_design")
    finally:
        conn.close()
    assert length == MEGABYTE


def test_dates_that_do_not_parse_are_quarantined_with_their_reason(rig: Rig) -> None:
    bad = {
        new_sales_order(rig.source, payment_date="2024-13-45"): "agreed_payment_date",
        new_sales_order(rig.source, delivery_date="2024-02-30"): "agreed_delivery_date",
        new_sales_order(rig.source, payment_date="15/11/2024"): "agreed_payment_date",
    }
    good = new_sales_order(rig.source)
    rig.source.run(
        f"UPDATE payment SET payment_date = 'soon', last_updated = {NOW} "
        "WHERE payment_id = (SELECT min(payment_id) FROM payment)"
    )
    report = rig.cycle()
    rig.check()  # includes: ingested rows = fact records + quarantined rows, per batch

    manifest = rig.processed_manifests()[-1]
    assert manifest["quarantine"]["sales_order"]["reasons"] == {
        "agreed_payment_date: not a date": 2,
        "agreed_delivery_date: not a date": 1,
    }
    assert manifest["quarantine"]["payment"]["reasons"] == {"payment_date: not a date": 1}
    assert report.quarantined == {"sales_order": 3, "payment": 1}
    rows = {int(r["sales_order_id"]): r for r in _quarantined(rig, "sales_order")}
    assert {k: rows[k]["_reason"] for k in bad} == {k: f"{c}: not a date" for k, c in bad.items()}
    assert rows[next(iter(bad))]["agreed_payment_date"] == "2024-13-45"  # kept as written
    conn = rig.warehouse()
    try:
        loaded = {r[0] for r in conn.run("SELECT sales_order_id FROM fact_sales_order")}
    finally:
        conn.close()
    assert good in loaded and not set(bad) & loaded

    # Corrected at the source, the orders flow as new versions.
    rig.source.run(
        "UPDATE sales_order SET agreed_payment_date = '2025-03-01', "
        f"agreed_delivery_date = '2025-03-02', last_updated = {NOW} "
        "WHERE sales_order_id = ANY(:ids)",
        ids=list(bad),
    )
    rig.cycle()
    rig.check()


def test_a_null_where_the_source_schema_forbids_one_is_quarantined(rig: Rig) -> None:
    rig.source.run("ALTER TABLE sales_order ALTER COLUMN units_sold DROP NOT NULL")
    rig.source.run("ALTER TABLE purchase_order ALTER COLUMN item_code DROP NOT NULL")
    rig.source.run("ALTER TABLE staff ALTER COLUMN first_name DROP NOT NULL")
    try:
        [[order]] = rig.source.run(
            f"UPDATE sales_order SET units_sold = NULL, last_updated = {NOW} "
            "WHERE sales_order_id = (SELECT max(sales_order_id) FROM sales_order) "
            "RETURNING sales_order_id"
        )
        rig.source.run(
            f"UPDATE purchase_order SET item_code = NULL, last_updated = {NOW} "
            "WHERE purchase_order_id = (SELECT min(purchase_order_id) FROM purchase_order)"
        )
        rig.source.run(
            f"UPDATE staff SET first_name = NULL, last_updated = {NOW} "
            "WHERE staff_id = (SELECT max(staff_id) FROM staff)"
        )
        good = new_sales_order(rig.source)
        rig.cycle()
        rig.check()  # the dimension's NULL name flows (its attributes are nullable)
        manifest = rig.processed_manifests()[-1]
        assert manifest["quarantine"]["sales_order"]["reasons"] == {"units_sold: null": 1}
        assert manifest["quarantine"]["purchase_order"]["reasons"] == {"item_code: null": 1}
        assert {int(r["sales_order_id"]) for r in _quarantined(rig, "sales_order")} >= {order}
        assert manifest["tables"]["fact_sales_order"]["rows"] == 1  # the good order flowed
        assert good

        rig.source.run(
            f"UPDATE sales_order SET units_sold = 2, last_updated = {NOW} WHERE units_sold IS NULL"
        )
        rig.source.run(
            f"UPDATE purchase_order SET item_code = 'FIXED', last_updated = {NOW} "
            "WHERE item_code IS NULL"
        )
        rig.cycle()
        rig.check()
    finally:
        rig.source.run(
            f"UPDATE staff SET first_name = 'Named', last_updated = {NOW} WHERE first_name IS NULL"
        )
        rig.source.run("ALTER TABLE sales_order ALTER COLUMN units_sold SET NOT NULL")
        rig.source.run("ALTER TABLE purchase_order ALTER COLUMN item_code SET NOT NULL")
        rig.source.run("ALTER TABLE staff ALTER COLUMN first_name SET NOT NULL")


def test_a_column_added_mid_life_is_carried_and_the_star_schema_is_unaffected(
    rig: Rig,
) -> None:
    rig.source.run("ALTER TABLE sales_order ADD COLUMN discount_code text")
    rig.source.run("ALTER TABLE staff ADD COLUMN nickname text DEFAULT 'none'")
    rig.source.run(
        f"UPDATE sales_order SET discount_code = 'SPRING', last_updated = {NOW} "
        "WHERE sales_order_id IN (SELECT sales_order_id FROM sales_order "
        "ORDER BY sales_order_id LIMIT 2)"
    )
    rig.source.run(
        f"UPDATE staff SET nickname = :v, last_updated = {NOW} "
        "WHERE staff_id = (SELECT min(staff_id) FROM staff)",
        v=HOSTILE[1],
    )
    new_sales_order(rig.source)
    rig.cycle()
    rig.check()
    landed = rig.ingest_manifests()[-1]["tables"]
    assert [c["name"] for c in landed["sales_order"]["columns"]][-1] == "discount_code"
    assert [c["name"] for c in landed["staff"]["columns"]][-1] == "nickname"

    advance(rig.source, hours=4, seed=23)  # the next batch merges into state without it
    rig.source.run(
        f"UPDATE staff SET last_updated = {NOW} WHERE staff_id = (SELECT max(staff_id) FROM staff)"
    )
    rig.cycle()
    rig.check()


def test_an_unknown_currency_code_gets_a_null_name_and_a_warning(rig: Rig) -> None:
    rig.source.run(
        f"INSERT INTO currency (currency_code, created_at, last_updated) VALUES "
        f"('ZZZ', {NOW}, {NOW})"
    )
    rig.cycle()
    rig.check()  # the oracle names only GBP, USD and EUR: every other code has a NULL name
    unknown = rig.source.run(
        "SELECT count(*) FROM currency WHERE currency_code <> ALL(:codes)",
        codes=list(ISO_NAMES),
    )[0][0]
    assert unknown >= 3  # ZZZ and the two hostile codes
    assert rig.processed_manifests()[-1]["warnings"] == {
        "dim_currency": {"unknown_currency_code": unknown}
    }


def test_a_far_future_timestamp_waits_beyond_hi_and_is_not_taken_early(rig: Rig) -> None:
    future = "CAST('2099-01-01 00:00:00' AS timestamp)"
    order = new_sales_order(rig.source, last_updated=future)
    [[design, name]] = rig.source.run(
        "SELECT design_id, design_name FROM design ORDER BY design_id LIMIT 1"
    )
    rig.source.run(
        f"UPDATE design SET design_name = 'from the future', last_updated = {future} "
        "WHERE design_id = :d",
        d=design,
    )
    now_order = new_sales_order(rig.source)
    for _ in range(2):  # it stays beyond hi cycle after cycle
        rig.cycle()
        rig.check()
        advance(rig.source, hours=1, seed=24)
    manifest = rig.ingest_manifests()[-1]
    assert all(w < "2099" for w in manifest["watermarks"].values())
    conn = rig.warehouse()
    try:
        loaded = {r[0] for r in conn.run("SELECT sales_order_id FROM fact_sales_order")}
        [[held]] = conn.run("SELECT design_name FROM dim_design WHERE design_id = :d", d=design)
    finally:
        conn.close()
    assert now_order in loaded and order not in loaded
    assert held == name == rig.oracle.dims["dim_design"][str(design)][1]  # the value before


def test_a_quoted_table_name_in_tables_is_refused_before_any_sql(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables, keys = _source_tables(rig), sorted(p.name for p in rig.landing.rglob("*"))
    new_sales_order(rig.source)
    monkeypatch.setenv("TABLES", 'sales_order,"staff"; DROP TABLE payment;--')
    unload_handlers()  # a new container reads its settings at import
    rig.failing_cycle("ingest", r"TABLES holds names outside the ToteSys allow-list")
    monkeypatch.delenv("TABLES")
    unload_handlers()
    assert _source_tables(rig) == tables
    assert sorted(p.name for p in rig.landing.rglob("*")) == keys
    rig.cycle()
    rig.check()


def test_a_malformed_ingest_manifest_is_a_clear_error_until_removed(rig: Rig) -> None:
    newest = rig.ingest_manifests()[-1]["batch_id"]
    bogus = f"_manifests/{newest[:-2]}9Z.json"
    assert bogus > f"_manifests/{newest}.json"
    rig.pipeline.s3.put_object(Bucket=NAMES.ingest_bucket, Key=bogus, Body=b'{"batch_id": ')
    new_sales_order(rig.source)
    rig.failing_cycle("ingest", rf"{bogus}.*(JSON|json)")
    rig.pipeline.s3.delete_object(Bucket=NAMES.ingest_bucket, Key=bogus)
    (rig.landing / bogus).unlink()
    rig.cycle()
    rig.check()


def test_a_processed_manifest_naming_a_missing_object_is_a_clear_error(rig: Rig) -> None:
    new_sales_order(rig.source)
    with rig.events_lost(wiring.TRANSFORM_RULE):  # the load waits for the backstop
        rig.failing_cycle("wiring", wiring.TRANSFORM_RULE)
    manifest = rig.processed_manifests()[-1]
    key = manifest["tables"]["fact_sales_order"]["objects"][0]["key"]
    body = (rig.lake / key).read_bytes()
    rig.pipeline.s3.delete_object(Bucket=NAMES.processed_bucket, Key=key)
    loaded = rig.loaded_batches()

    with pytest.raises(Exception, match=key) as raised:
        rig.backstop()
    rig.errors.append(repr(raised.value))
    assert rig.loaded_batches() == loaded

    rig.pipeline.s3.put_object(Bucket=NAMES.processed_bucket, Key=key, Body=body)
    assert rig.backstop()["batch_ids"] == [manifest["batch_id"]]
    rig.check()


def test_a_malformed_processed_manifest_is_a_clear_error_until_removed(rig: Rig) -> None:
    newest = rig.processed_manifests()[-1]["batch_id"]
    bogus = f"_manifests/{newest[:-2]}9Z.json"
    rig.pipeline.s3.put_object(Bucket=NAMES.processed_bucket, Key=bogus, Body=b"[1, 2")
    with pytest.raises(Exception, match=bogus) as raised:
        rig.backstop()
    rig.errors.append(repr(raised.value))
    rig.pipeline.s3.delete_object(Bucket=NAMES.processed_bucket, Key=bogus)
    new_sales_order(rig.source)
    rig.cycle()
    rig.check()


def test_a_dropped_column_the_star_schema_does_not_use_changes_nothing(rig: Rig) -> None:
    rig.source.run("ALTER TABLE counterparty DROP COLUMN delivery_contact")
    rig.source.run(
        f"UPDATE counterparty SET counterparty_legal_name = 'Renamed Ltd', last_updated = {NOW} "
        "WHERE counterparty_id = (SELECT min(counterparty_id) FROM counterparty)"
    )
    rig.cycle()
    rig.check()


def test_a_dropped_dimension_column_leaves_later_versions_without_it(rig: Rig) -> None:
    """Documented, not refused: rows changed after the drop carry NULL in that attribute."""
    rig.source.run("ALTER TABLE staff DROP COLUMN email_address")
    [[changed]] = rig.source.run(
        f"UPDATE staff SET last_name = 'Dropped', last_updated = {NOW} "
        "WHERE staff_id = (SELECT min(staff_id) FROM staff) RETURNING staff_id"
    )
    report = rig.pipeline.run_cycle()  # not rig.cycle(): the oracle's SQL needs the column
    assert report.loaded_batches == rig.loaded_batches()[-1:]
    landed = rig.ingest_manifests()[-1]["tables"]["staff"]["columns"]
    assert "email_address" not in [c["name"] for c in landed]
    conn = rig.warehouse()
    try:
        emails = dict(conn.run("SELECT staff_id, email_address FROM dim_staff"))
    finally:
        conn.close()
    assert emails.pop(changed) is None
    assert all(emails.values())  # rows not changed since keep the value they had


def test_a_dropped_fact_column_stops_the_transform_with_a_clear_error(rig: Rig) -> None:
    """The last test of the module: the batch cannot be made whole, so the job refuses it."""
    rig.source.run("ALTER TABLE sales_order DROP COLUMN agreed_delivery_location_id")
    new_sales_order_without_location = (
        "INSERT INTO sales_order (created_at, last_updated, design_id, staff_id, "
        "counterparty_id, units_sold, unit_price, currency_id, agreed_delivery_date, "
        f"agreed_payment_date) SELECT {NOW}, {NOW}, min(design_id), "
        "(SELECT min(staff_id) FROM staff), (SELECT min(counterparty_id) FROM counterparty), "
        "1, 1.00, (SELECT min(currency_id) FROM currency), '2025-05-01', '2025-05-02' "
        "FROM design"
    )
    rig.source.run(new_sales_order_without_location)
    loaded = rig.loaded_batches()
    with pytest.raises(StageError) as raised:
        rig.pipeline.run_cycle()
    rig.errors.append(repr(raised.value))
    batch = rig.ingest_manifests()[-1]["batch_id"]
    assert str(raised.value) == (
        f"transform failed: ManifestError: ingest batch {batch}: sales_order lacks "
        "agreed_delivery_location_id, which its fact table needs (a column dropped at the source?)"
    )
    assert rig.loaded_batches() == loaded
    assert not (rig.lake / "_tmp").exists()  # refused before anything was written


def test_no_password_reaches_a_log_an_error_or_an_object(rig: Rig) -> None:
    assert len(rig.errors) >= 4
    assert not rig.leaks(CAPTURED_OUTPUT)

-- The three star schemas computed by DuckDB straight from the ingest CSVs: the single-node
-- engine's limit that the Glue job is measured against. The views src_<table> (every
-- landed row of a ToteSys table, typed from the ingest manifests' columns) are created by
-- bench/transform_duckdb.py before this runs. Same rules as the job: dimensions take the
-- latest version per id; facts keep every distinct (<source>_id, last_updated) version;
-- dim_date covers every day from the earliest to the latest date any fact references.

CREATE TEMP MACRO hms(ts) AS strftime(ts, '%H:%M:%S.%g');

CREATE TEMP TABLE cur_address AS
    SELECT * FROM src_address QUALIFY row_number() OVER (PARTITION BY address_id ORDER BY last_updated DESC) = 1;
CREATE TEMP TABLE cur_department AS
    SELECT * FROM src_department QUALIFY row_number() OVER (PARTITION BY department_id ORDER BY last_updated DESC) = 1;

CREATE TABLE dim_location AS
    SELECT address_id AS location_id, address_line_1, address_line_2, district, city,
           postal_code, country, phone
    FROM cur_address;

CREATE TABLE dim_staff AS
    SELECT s.staff_id, s.first_name, s.last_name, d.department_name, d.location, s.email_address
    FROM (SELECT * FROM src_staff
          QUALIFY row_number() OVER (PARTITION BY staff_id ORDER BY last_updated DESC) = 1) s
    LEFT JOIN cur_department d USING (department_id);

CREATE TABLE dim_design AS
    SELECT design_id, design_name, file_location, file_name
    FROM src_design
    QUALIFY row_number() OVER (PARTITION BY design_id ORDER BY last_updated DESC) = 1;

CREATE TABLE dim_currency AS
    SELECT c.currency_id, c.currency_code, iso.currency_name
    FROM (SELECT * FROM src_currency
          QUALIFY row_number() OVER (PARTITION BY currency_id ORDER BY last_updated DESC) = 1) c
    LEFT JOIN (VALUES ('GBP', 'Pound Sterling'), ('USD', 'US Dollar'), ('EUR', 'Euro'),
                      ('JPY', 'Yen'), ('CHF', 'Swiss Franc'), ('CAD', 'Canadian Dollar'),
                      ('AUD', 'Australian Dollar'), ('CNY', 'Yuan Renminbi'),
                      ('SEK', 'Swedish Krona'), ('NOK', 'Norwegian Krone'),
                      ('DKK', 'Danish Krone'), ('PLN', 'Zloty'), ('INR', 'Indian Rupee'))
        AS iso(currency_code, currency_name) USING (currency_code);

CREATE TABLE dim_counterparty AS
    SELECT c.counterparty_id, c.counterparty_legal_name,
           a.address_line_1 AS counterparty_legal_address_line_1,
           a.address_line_2 AS counterparty_legal_address_line_2,
           a.district AS counterparty_legal_district,
           a.city AS counterparty_legal_city,
           a.postal_code AS counterparty_legal_postal_code,
           a.country AS counterparty_legal_country,
           a.phone AS counterparty_legal_phone_number
    FROM (SELECT * FROM src_counterparty
          QUALIFY row_number() OVER (PARTITION BY counterparty_id ORDER BY last_updated DESC) = 1) c
    LEFT JOIN cur_address a ON a.address_id = c.legal_address_id;

CREATE TABLE dim_payment_type AS
    SELECT payment_type_id, payment_type_name
    FROM src_payment_type
    QUALIFY row_number() OVER (PARTITION BY payment_type_id ORDER BY last_updated DESC) = 1;

CREATE TABLE dim_transaction AS
    SELECT transaction_id, transaction_type, sales_order_id, purchase_order_id
    FROM src_transaction
    QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY last_updated DESC) = 1;

CREATE TABLE fact_sales_order AS
    SELECT DISTINCT ON (sales_order_id, last_updated)
           sales_order_id,
           CAST(created_at AS DATE) AS created_date, hms(created_at) AS created_time,
           CAST(last_updated AS DATE) AS last_updated_date, hms(last_updated) AS last_updated_time,
           staff_id AS sales_staff_id, counterparty_id, units_sold, unit_price, currency_id,
           design_id, CAST(agreed_payment_date AS DATE) AS agreed_payment_date,
           CAST(agreed_delivery_date AS DATE) AS agreed_delivery_date,
           agreed_delivery_location_id
    FROM src_sales_order;

CREATE TABLE fact_purchase_order AS
    SELECT DISTINCT ON (purchase_order_id, last_updated)
           purchase_order_id,
           CAST(created_at AS DATE) AS created_date, hms(created_at) AS created_time,
           CAST(last_updated AS DATE) AS last_updated_date, hms(last_updated) AS last_updated_time,
           staff_id, counterparty_id, item_code, item_quantity, item_unit_price, currency_id,
           CAST(agreed_delivery_date AS DATE) AS agreed_delivery_date,
           CAST(agreed_payment_date AS DATE) AS agreed_payment_date,
           agreed_delivery_location_id
    FROM src_purchase_order;

CREATE TABLE fact_payment AS
    SELECT DISTINCT ON (payment_id, last_updated)
           payment_id,
           CAST(created_at AS DATE) AS created_date, hms(created_at) AS created_time,
           CAST(last_updated AS DATE) AS last_updated_date, hms(last_updated) AS last_updated_time,
           transaction_id, counterparty_id, payment_amount, currency_id, payment_type_id, paid,
           CAST(payment_date AS DATE) AS payment_date
    FROM src_payment;

CREATE TEMP TABLE fact_dates AS
    SELECT min(d) AS lo, max(d) AS hi FROM (
        SELECT unnest([created_date, last_updated_date, agreed_payment_date, agreed_delivery_date]) AS d
        FROM fact_sales_order
        UNION ALL
        SELECT unnest([created_date, last_updated_date, agreed_payment_date, agreed_delivery_date])
        FROM fact_purchase_order
        UNION ALL
        SELECT unnest([created_date, last_updated_date, payment_date]) FROM fact_payment);

CREATE TABLE dim_date AS
    SELECT CAST(d AS DATE) AS date_id, year(d) AS year, month(d) AS month, day(d) AS day,
           isodow(d) AS day_of_week, dayname(d) AS day_name, monthname(d) AS month_name,
           quarter(d) AS quarter
    FROM fact_dates, range(fact_dates.lo, fact_dates.hi + INTERVAL 1 DAY, INTERVAL 1 DAY) AS r(d);

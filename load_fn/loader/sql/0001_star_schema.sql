-- Warehouse star schema (docs/contracts.md sections 3 and 4; names fixed by DESIGN.md).
-- Dimensions: the source id is the primary key and rows hold the latest values.
-- Facts: a warehouse serial per record and full history, one record per distinct
-- (<source>_id, last_updated_date, last_updated_time); every fact date refers to dim_date.

CREATE TABLE dim_date (
    date_id     date PRIMARY KEY,
    year        integer NOT NULL,
    month       integer NOT NULL,
    day         integer NOT NULL,
    day_of_week integer NOT NULL,
    day_name    text NOT NULL,
    month_name  text NOT NULL,
    quarter     integer NOT NULL
);

CREATE TABLE dim_staff (
    staff_id        integer PRIMARY KEY,
    first_name      text,
    last_name       text,
    department_name text,
    location        text,
    email_address   text
);

CREATE TABLE dim_location (
    location_id    integer PRIMARY KEY,
    address_line_1 text,
    address_line_2 text,
    district       text,
    city           text,
    postal_code    text,
    country        text,
    phone          text
);

CREATE TABLE dim_design (
    design_id     integer PRIMARY KEY,
    design_name   text,
    file_location text,
    file_name     text
);

CREATE TABLE dim_currency (
    currency_id   integer PRIMARY KEY,
    currency_code text,
    currency_name text
);

CREATE TABLE dim_counterparty (
    counterparty_id                   integer PRIMARY KEY,
    counterparty_legal_name           text,
    counterparty_legal_address_line_1 text,
    counterparty_legal_address_line_2 text,
    counterparty_legal_district       text,
    counterparty_legal_city           text,
    counterparty_legal_postal_code    text,
    counterparty_legal_country        text,
    counterparty_legal_phone_number   text
);

CREATE TABLE dim_payment_type (
    payment_type_id   integer PRIMARY KEY,
    payment_type_name text
);

CREATE TABLE dim_transaction (
    transaction_id    integer PRIMARY KEY,
    transaction_type  text,
    sales_order_id    integer,
    purchase_order_id integer
);

CREATE TABLE fact_sales_order (
    sales_record_id             serial PRIMARY KEY,
    sales_order_id              integer NOT NULL,
    created_date                date NOT NULL REFERENCES dim_date (date_id),
    created_time                time(3) NOT NULL,
    last_updated_date           date NOT NULL REFERENCES dim_date (date_id),
    last_updated_time           time(3) NOT NULL,
    sales_staff_id              integer NOT NULL REFERENCES dim_staff (staff_id),
    counterparty_id             integer NOT NULL REFERENCES dim_counterparty (counterparty_id),
    units_sold                  integer NOT NULL,
    unit_price                  numeric(10, 2) NOT NULL,
    currency_id                 integer NOT NULL REFERENCES dim_currency (currency_id),
    design_id                   integer NOT NULL REFERENCES dim_design (design_id),
    agreed_payment_date         date NOT NULL REFERENCES dim_date (date_id),
    agreed_delivery_date        date NOT NULL REFERENCES dim_date (date_id),
    agreed_delivery_location_id integer NOT NULL REFERENCES dim_location (location_id),
    CONSTRAINT fact_sales_order_version_key
        UNIQUE (sales_order_id, last_updated_date, last_updated_time)
);

CREATE TABLE fact_purchase_order (
    purchase_record_id          serial PRIMARY KEY,
    purchase_order_id           integer NOT NULL,
    created_date                date NOT NULL REFERENCES dim_date (date_id),
    created_time                time(3) NOT NULL,
    last_updated_date           date NOT NULL REFERENCES dim_date (date_id),
    last_updated_time           time(3) NOT NULL,
    staff_id                    integer NOT NULL REFERENCES dim_staff (staff_id),
    counterparty_id             integer NOT NULL REFERENCES dim_counterparty (counterparty_id),
    item_code                   text NOT NULL,
    item_quantity               integer NOT NULL,
    item_unit_price             numeric(10, 2) NOT NULL,
    currency_id                 integer NOT NULL REFERENCES dim_currency (currency_id),
    agreed_delivery_date        date NOT NULL REFERENCES dim_date (date_id),
    agreed_payment_date         date NOT NULL REFERENCES dim_date (date_id),
    agreed_delivery_location_id integer NOT NULL REFERENCES dim_location (location_id),
    CONSTRAINT fact_purchase_order_version_key
        UNIQUE (purchase_order_id, last_updated_date, last_updated_time)
);

CREATE TABLE fact_payment (
    payment_record_id serial PRIMARY KEY,
    payment_id        integer NOT NULL,
    created_date      date NOT NULL REFERENCES dim_date (date_id),
    created_time      time(3) NOT NULL,
    last_updated_date date NOT NULL REFERENCES dim_date (date_id),
    last_updated_time time(3) NOT NULL,
    transaction_id    integer NOT NULL REFERENCES dim_transaction (transaction_id),
    counterparty_id   integer NOT NULL REFERENCES dim_counterparty (counterparty_id),
    payment_amount    numeric(10, 2) NOT NULL,
    currency_id       integer NOT NULL REFERENCES dim_currency (currency_id),
    payment_type_id   integer NOT NULL REFERENCES dim_payment_type (payment_type_id),
    paid              boolean NOT NULL,
    payment_date      date NOT NULL REFERENCES dim_date (date_id),
    CONSTRAINT fact_payment_version_key
        UNIQUE (payment_id, last_updated_date, last_updated_time)
);

-- Bookkeeping: one row per processed batch, written in the same transaction as its rows.
CREATE TABLE etl_loaded_batch (
    batch_id     text PRIMARY KEY,
    manifest_key text NOT NULL,
    loaded_at    timestamptz NOT NULL DEFAULT now(),
    row_counts   jsonb NOT NULL
);

-- The latest record of every source row (the unique key above makes the order total).
CREATE VIEW fact_sales_order_current AS
SELECT DISTINCT ON (sales_order_id) *
FROM fact_sales_order
ORDER BY sales_order_id, last_updated_date DESC, last_updated_time DESC;

CREATE VIEW fact_purchase_order_current AS
SELECT DISTINCT ON (purchase_order_id) *
FROM fact_purchase_order
ORDER BY purchase_order_id, last_updated_date DESC, last_updated_time DESC;

CREATE VIEW fact_payment_current AS
SELECT DISTINCT ON (payment_id) *
FROM fact_payment
ORDER BY payment_id, last_updated_date DESC, last_updated_time DESC;

"""Hard content round-trips exactly: quotes, commas, newlines, non-ASCII, '' beside NULL."""

from __future__ import annotations

import io


def test_addresses_keep_quotes_commas_newlines_backslashes_and_empty_strings(seeded):
    rows = {
        row[0]: row[1:]
        for row in seeded.run(
            "SELECT address_id, address_line_1, address_line_2, district, city "
            "FROM address WHERE address_id IN (3, 7, 11, 19, 26)"
        )
    }
    assert rows[3][1:3] == ["", ""]
    assert rows[7][0:2] == ['12 "Old Mill", Unit 4', "Block B\nFloor 2"]
    assert rows[11][2:] == ["Île-de-France", "Zürich"]
    assert rows[19] == ["Flat 3\\B, O'Neill's Yard", None, None, "São Paulo"]
    assert rows[26][1:] == ["", None, "Łódź"]


def test_nullable_text_columns_hold_both_empty_strings_and_nulls(seeded):
    counts = seeded.run(
        "SELECT "
        "(SELECT count(*) FILTER (WHERE address_line_2 = '') FROM address), "
        "(SELECT count(*) FILTER (WHERE address_line_2 IS NULL) FROM address), "
        "(SELECT count(*) FILTER (WHERE district = '') FROM address), "
        "(SELECT count(*) FILTER (WHERE district IS NULL) FROM address), "
        "(SELECT count(*) FILTER (WHERE location = '') FROM department), "
        "(SELECT count(*) FILTER (WHERE location IS NULL) FROM department), "
        "(SELECT count(*) FILTER (WHERE manager = '') FROM department), "
        "(SELECT count(*) FILTER (WHERE manager IS NULL) FROM department), "
        "(SELECT count(*) FILTER (WHERE commercial_contact = '') FROM counterparty), "
        "(SELECT count(*) FILTER (WHERE commercial_contact IS NULL) FROM counterparty), "
        "(SELECT count(*) FILTER (WHERE delivery_contact IS NULL) FROM counterparty)"
    )[0]
    empty_line_2, null_line_2, empty_district, null_district = counts[:4]
    assert empty_line_2 == 2 and null_line_2 >= 1
    assert empty_district == 1 and null_district >= 1
    assert counts[4:] == [1, 1, 1, 1, 1, 1, 1]


def test_people_and_companies_keep_non_ascii_and_quotes(seeded):
    counterparties = dict(
        seeded.run(
            "SELECT counterparty_id, counterparty_legal_name FROM counterparty "
            "WHERE counterparty_id IN (4, 15)"
        )
    )
    assert counterparties == {4: 'Müller, Søn & "Partners"', 15: "O'Connor, Ng and Ćosić"}
    contacts = seeded.run(
        "SELECT delivery_contact FROM counterparty WHERE counterparty_id IN (9, 15) ORDER BY 1"
    )
    assert contacts == [["Dr. Siobhán Ní Bhriain\nGoods-in desk"], ["Zoë Ångström"]]
    staff = seeded.run(
        "SELECT first_name, last_name, email_address FROM staff "
        "WHERE staff_id IN (5, 12) ORDER BY staff_id"
    )
    assert staff == [
        ["Zoë", "O'Brien-Ñúñez", "zoë.o'brien-ñúñez@terrifictotes.com"],
        ["Renée", 'Smith, "Jr."', 'renée.smith,"jr."@terrifictotes.com'],
    ]
    assert seeded.run("SELECT manager FROM department WHERE department_id = 6") == [
        ["Ana María Núñez"]
    ]


def test_a_few_designs_carry_hard_names(seeded):
    names = {
        row[0]
        for row in seeded.run("SELECT design_name FROM design WHERE design_name ~ '[^A-Za-z]'")
    }
    assert names
    assert names <= {'Canvas "Heavy"', "Jute, Natural", "Crème Brûlée", "Żółw"}


def test_hard_content_survives_a_csv_copy_out_and_back_in(seeded):
    out = io.BytesIO()
    seeded.run(
        "COPY (SELECT * FROM address ORDER BY address_id) TO STDOUT WITH (FORMAT csv)",
        stream=out,
    )
    seeded.run("CREATE TEMP TABLE address_copy (LIKE address)")
    seeded.run("COPY address_copy FROM STDIN WITH (FORMAT csv)", stream=io.BytesIO(out.getvalue()))
    differences = seeded.run(
        "SELECT count(*) FROM ((TABLE address EXCEPT TABLE address_copy) "
        "UNION ALL (TABLE address_copy EXCEPT TABLE address)) x"
    )
    nulls = seeded.run(
        "SELECT count(*) FILTER (WHERE address_line_2 IS NULL), "
        "count(*) FILTER (WHERE address_line_2 = '') FROM address_copy"
    )[0]
    original = seeded.run(
        "SELECT count(*) FILTER (WHERE address_line_2 IS NULL), "
        "count(*) FILTER (WHERE address_line_2 = '') FROM address"
    )[0]
    seeded.run("DROP TABLE address_copy")
    assert differences == [[0]]
    assert nulls == original

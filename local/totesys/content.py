"""Reference rows of a seeded ToteSys: addresses, counterparties, staff, designs and so on.

Made-up names in the style of the real data (faker-like), drawn with the seed's generator,
plus a few fixed rows of hard content whatever the seed: quotes, commas, newlines, a
backslash, non-ASCII letters, and empty strings beside NULLs in the nullable text columns.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa

from local.totesys.bulk import timestamps


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _items(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


FIRST_NAMES = _words(
    "Jeremie Deron Jeanette Ana Magdalena Korey Raphael Oswaldo Brody Jazmyn Meda Imani "
    "Stan Rigoberto Tom Jett Irving Tomasa Pierre Flavio Micheal Melba Jane Taylor Homer "
    "Florence Wilma Emily Sheryl Ed Glen Marcus Sherry Susan Roderick Alberta Doris "
    "Laura Pearl Sophie Lucy Jean Myra Alfredo Ivan Eva Christy Veronica Simon Dewey "
    "Laurie Rosa Elizabeth Andrea Jake Tracy Gregg Olivia Warren Janie Priya Kwame Mei "
    "Tariq Ingrid Mateo"
)
LAST_NAMES = _words(
    "Franey Beier Erdman Glover Zieme Kreiger Rippin Bergstrom Ratke Kuhn Cremin Walker "
    "Lehner VonRueden Gutkowski Parisian Moore Sauer Kulas Toy Sanford Wiza Haag "
    "Mitchell Casper Witting Orn Langworth Halvorson Emmerich Rogahn Rice Haley Waters "
    "Heidenreich Graham Kreiger Konopelski Runolfsdottir Hane Kovacek Cassin Balistreri "
    "Upton Fay Schoen Kuhic Hermiston Powlowski Senger Kassulke Welch Quigley Beahan "
    "Franey Weimann Doyle Herzog Rogahn Upton Bernier Durgan Pacocha Ullrich Goodwin "
    "Heathcote Breitenberg"
)
STREET_SUFFIXES = _words(
    "Via Cliffs Fort Skyway Track Island Ways Common Garden Flat Mission Expressway Dale "
    "Trafficway Extension Drives Cliff Corner Landing Ridge Streets Spring Freeway Inlet "
    "Branch View Lock Heights Circles Turnpike Radial Glens Wall Bridge Pines"
)
CITIES = _items(
    "New Patienceburgh|Aliso Viejo|Lake Charles|Olsonside|Fort Shadburgh|Kendraburgh|"
    "North Deshaun|Suffolk|New Tyra|Beaulahcester|Corpus Christi|Pricetown|Shanahanview|"
    "Maggiofurt|East Bobbie|South Wyatt|Hackensack|Lake Arne|West Briellecester|Pueblo|"
    "Fresno|Sayreville|Derekport|New Torrance|East Arvel|Napa|Oakland Park|Utica|"
    "Bartellview|Lake Myrlfurt"
)
COUNTRIES = _items(
    "Turkey|San Marino|Samoa|Republic of Korea|Bosnia and Herzegovina|Zimbabwe|"
    "Faroe Islands|United Kingdom|Australia|Japan|Tajikistan|Bouvet Island (Bouvetoya)|"
    "Iraq|Iceland|Indonesia|Kiribati|Sierra Leone|Bolivia|Papua New Guinea|"
    "Antigua and Barbuda|Sudan|American Samoa|Guam|Austria|Congo|"
    "Falkland Islands (Malvinas)|Heard Island and McDonald Islands|"
    "Svalbard & Jan Mayen Islands|Democratic People's Republic of Korea"
)
DISTRICTS = _words(
    "Avon Bedfordshire Buckinghamshire Berkshire Borders Cambridgeshire Cheshire Cornwall"
)
COMPANY_SUFFIXES = ("Inc", "LLC", "Group", "and Sons")
CONTACT_PREFIXES = ("Mr.", "Mrs.", "Ms.", "Dr.")
CONTACT_SUFFIXES = ("II", "III", "PhD", "DDS", "DVM")
DEPARTMENTS = (
    ("Sales", "Manchester"),
    ("Purchasing", "Manchester"),
    ("Production", "Leeds"),
    ("Dispatch", "Leeds"),
    ("Finance", "Manchester"),
    ("Facilities", "Manchester"),
    ("Communications", "Leeds"),
    ("HR", "Leeds"),
)
LOCATIONS = ("Manchester", "Leeds", "Sheffield", "Liverpool", "Bradford", "Salford")
CURRENCIES = ("GBP", "USD", "EUR")
PAYMENT_TYPES = ("SALES_RECEIPT", "SALES_REFUND", "PURCHASE_PAYMENT", "PURCHASE_REFUND")
EMAIL_DOMAIN = "terrifictotes.com"

DESIGN_NAMES = _words(
    "Steel Soft Granite Concrete Frozen Bronze Plastic Cotton Metal Fresh Wooden Rubber"
)
# A small share of designs carry hard names (2 in 100 on average).
HARD_DESIGN_NAMES = ('Canvas "Heavy"', "Jute, Natural", "Crème Brûlée", "Żółw")
HARD_DESIGN_SHARE = 0.02
# Directory names as the real data has them (faker's file paths), not paths we open.
FILE_LOCATIONS = _words(
    "/Applications /Library /Network /System /Users /bin /boot /boot/defaults /dev /etc "
    "/etc/defaults /etc/mail /etc/namedb /etc/periodic /etc/ppp /home /home/user "
    "/home/user/dir /lib /lost+found /media /mnt /net /opt /opt/bin /opt/include "
    "/opt/lib /opt/sbin /opt/share /private /private/tmp /private/var /proc /rescue "
    "/root /sbin /selinux /srv /sys /tmp /usr /usr/X11R6 /usr/bin /usr/include /usr/lib "
    "/usr/libdata /usr/libexec /usr/local/bin /usr/local/src /usr/obj /usr/ports "
    "/usr/sbin /usr/share /usr/src /var /var/log /var/mail /var/spool /var/tmp /var/yp"
)

ADDRESS_COUNT = 30
COUNTERPARTY_COUNT = 20
STAFF_COUNT = 20

# Fixed hard rows, by id; every other column of these rows is drawn as usual.
HARD_ADDRESSES: dict[int, dict[str, str | None]] = {
    3: {"address_line_2": "", "district": ""},
    7: {"address_line_1": '12 "Old Mill", Unit 4', "address_line_2": "Block B\nFloor 2"},
    11: {"city": "Zürich", "district": "Île-de-France", "country": "Curaçao"},
    19: {
        "address_line_1": "Flat 3\\B, O'Neill's Yard",
        "address_line_2": None,
        "district": None,
        "city": "São Paulo",
    },
    26: {"address_line_2": "", "district": None, "city": "Łódź"},
}
HARD_COUNTERPARTIES: dict[int, dict[str, str | None]] = {
    4: {
        "counterparty_legal_name": 'Müller, Søn & "Partners"',
        "commercial_contact": "",
        "delivery_contact": None,
    },
    9: {"commercial_contact": None, "delivery_contact": "Zoë Ångström"},
    15: {
        "counterparty_legal_name": "O'Connor, Ng and Ćosić",
        "delivery_contact": "Dr. Siobhán Ní Bhriain\nGoods-in desk",
    },
}
HARD_DEPARTMENTS: dict[int, dict[str, str | None]] = {
    6: {"location": "", "manager": "Ana María Núñez"},
    7: {"manager": None},
    8: {"location": None, "manager": ""},
}
HARD_STAFF: dict[int, dict[str, str | None]] = {
    5: {"first_name": "Zoë", "last_name": "O'Brien-Ñúñez"},
    12: {"first_name": "Renée", "last_name": 'Smith, "Jr."'},
}


def _pick(rng: np.random.Generator, pool: tuple[str, ...] | list[str], size: int) -> list[str]:
    return [pool[i] for i in rng.integers(0, len(pool), size)]


def _digits(rng: np.random.Generator, width: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, width))


def person_name(rng: np.random.Generator) -> str:
    """A contact's name, now and then with a title or a suffix."""
    name = f"{_pick(rng, FIRST_NAMES, 1)[0]} {_pick(rng, LAST_NAMES, 1)[0]}"
    roll = rng.random()
    if roll < 0.15:
        return f"{_pick(rng, CONTACT_PREFIXES, 1)[0]} {name}"
    if roll < 0.25:
        return f"{name} {_pick(rng, CONTACT_SUFFIXES, 1)[0]}"
    return name


def phone_number(rng: np.random.Generator) -> str:
    """A phone number like the real ones: four digits, a space, six digits."""
    return f"{_digits(rng, 4)} {_digits(rng, 6)}"


def email_address(first_name: str, last_name: str) -> str:
    """The company's address scheme: first.last, lower case, as the names are spelt."""
    return f"{first_name}.{last_name}".lower().replace(" ", "") + f"@{EMAIL_DOMAIN}"


def _apply(rows: list[dict[str, Any]], key: str, hard: dict[int, dict[str, str | None]]) -> None:
    for row in rows:
        row.update(hard.get(row[key], {}))


def _table(rows: list[dict[str, Any]], created: np.datetime64) -> pa.Table:
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    at = timestamps(np.full(len(rows), created, dtype="datetime64[ms]"))
    data = {name: pa.array(values) for name, values in columns.items()}
    return pa.table({**data, "created_at": at, "last_updated": at})


def build_addresses(rng: np.random.Generator, created: np.datetime64) -> pa.Table:
    """30 addresses: about a third with a second line, half with a district."""
    rows = []
    for address_id in range(1, ADDRESS_COUNT + 1):
        number = _digits(rng, int(rng.integers(3, 6)))
        line_2 = None
        if rng.random() < 1 / 3:
            line_2 = f"{_pick(rng, LAST_NAMES, 1)[0]} {_pick(rng, STREET_SUFFIXES, 1)[0]}"
        postal = _digits(rng, 5) + (f"-{_digits(rng, 4)}" if rng.random() < 0.6 else "")
        rows.append(
            {
                "address_id": address_id,
                "address_line_1": f"{number} {_pick(rng, LAST_NAMES, 1)[0]} "
                f"{_pick(rng, STREET_SUFFIXES, 1)[0]}",
                "address_line_2": line_2,
                "district": _pick(rng, DISTRICTS, 1)[0] if rng.random() < 0.5 else None,
                "city": _pick(rng, CITIES, 1)[0],
                "postal_code": postal,
                "country": _pick(rng, COUNTRIES, 1)[0],
                "phone": phone_number(rng),
            }
        )
    _apply(rows, "address_id", HARD_ADDRESSES)
    return _table(rows, created)


def company_name(rng: np.random.Generator) -> str:
    """A company name in one of the real data's shapes ("A, B and C", "A - B", "A Inc")."""
    a, b, c = _pick(rng, LAST_NAMES, 3)
    shape = int(rng.integers(0, 3))
    if shape == 0:
        return f"{a}, {b} and {c}"
    if shape == 1:
        return f"{a} - {b}"
    return f"{a} {_pick(rng, COMPANY_SUFFIXES, 1)[0]}"


def build_counterparties(rng: np.random.Generator, created: np.datetime64) -> pa.Table:
    """20 counterparties, each with a legal address among the 30."""
    rows = [
        {
            "counterparty_id": counterparty_id,
            "counterparty_legal_name": company_name(rng),
            "legal_address_id": int(rng.integers(1, ADDRESS_COUNT + 1)),
            "commercial_contact": person_name(rng),
            "delivery_contact": person_name(rng),
        }
        for counterparty_id in range(1, COUNTERPARTY_COUNT + 1)
    ]
    _apply(rows, "counterparty_id", HARD_COUNTERPARTIES)
    return _table(rows, created)


def build_currencies(created: np.datetime64) -> pa.Table:
    """GBP, USD and EUR."""
    rows = [{"currency_id": i, "currency_code": code} for i, code in enumerate(CURRENCIES, start=1)]
    return _table(rows, created)


def build_departments(rng: np.random.Generator, created: np.datetime64) -> pa.Table:
    """The 8 departments."""
    rows = [
        {
            "department_id": i,
            "department_name": name,
            "location": location,
            "manager": f"{_pick(rng, FIRST_NAMES, 1)[0]} {_pick(rng, LAST_NAMES, 1)[0]}",
        }
        for i, (name, location) in enumerate(DEPARTMENTS, start=1)
    ]
    _apply(rows, "department_id", HARD_DEPARTMENTS)
    return _table(rows, created)


def build_payment_types(created: np.datetime64) -> pa.Table:
    """The 4 payment types (only receipts and payments occur in the real data)."""
    rows = [
        {"payment_type_id": i, "payment_type_name": name}
        for i, name in enumerate(PAYMENT_TYPES, start=1)
    ]
    return _table(rows, created)


def build_staff(rng: np.random.Generator, created: np.datetime64) -> pa.Table:
    """20 staff spread over the 8 departments, emailed as first.last@terrifictotes.com."""
    rows: list[dict[str, Any]] = [
        {
            "staff_id": staff_id,
            "first_name": _pick(rng, FIRST_NAMES, 1)[0],
            "last_name": _pick(rng, LAST_NAMES, 1)[0],
            "department_id": int(rng.integers(1, len(DEPARTMENTS) + 1)),
        }
        for staff_id in range(1, STAFF_COUNT + 1)
    ]
    _apply(rows, "staff_id", HARD_STAFF)
    for row in rows:
        row["email_address"] = email_address(row["first_name"], row["last_name"])
    return _table(rows, created)


def design_file_stem(name: str) -> str:
    """The design's name as it starts its file name (lower case, words joined by '-')."""
    return re.sub(r"[\W_]+", "-", name.lower()).strip("-")


def build_designs(rng: np.random.Generator, first_id: int, created: np.ndarray) -> pa.Table:
    """Designs created at the given times: name, directory and dated JSON file name."""
    size = created.size
    names = np.array(DESIGN_NAMES, dtype=object)[rng.integers(0, len(DESIGN_NAMES), size)]
    hard = rng.random(size) < HARD_DESIGN_SHARE
    hard_names = np.array(HARD_DESIGN_NAMES, dtype=object)
    names[hard] = hard_names[rng.integers(0, len(hard_names), int(hard.sum()))]
    locations = np.array(FILE_LOCATIONS, dtype=object)[rng.integers(0, len(FILE_LOCATIONS), size)]
    drawn = created.astype("datetime64[D]") - rng.integers(3, 729, size).astype("timedelta64[D]")
    suffix_chars = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
    suffixes = suffix_chars[rng.integers(0, 36, (size, 4))].view("S4").ravel()
    stamps = np.datetime_as_string(drawn, unit="D")
    file_names = [
        f"{design_file_stem(name)}-{stamp.replace('-', '')}-{suffix.decode()}.json"
        for name, stamp, suffix in zip(names, stamps, suffixes, strict=True)
    ]
    at = timestamps(created)
    return pa.table(
        {
            "design_id": pa.array(np.arange(first_id, first_id + size, dtype=np.int32)),
            "design_name": pa.array(names.tolist(), type=pa.string()),
            "file_location": pa.array(locations.tolist(), type=pa.string()),
            "file_name": pa.array(file_names, type=pa.string()),
            "created_at": at,
            "last_updated": at,
        }
    )

"""The fixed business period the seeded history covers, and its trading hours.

Seeded history is anchored to the real snapshot's period (2022-11-03 to 2024-11-15), not
to the wall clock, so the same seed gives the same rows byte for byte on any day.
"""

from __future__ import annotations

import numpy as np

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR

# When the real system was loaded: reference data, then staff and counterparties, then
# the first handful of orders (all rows of one step share one millisecond).
REFERENCE_LOADED = np.datetime64("2022-11-03T14:20:49.962", "ms")
PEOPLE_LOADED = np.datetime64("2022-11-03T14:20:51.563", "ms")
FIRST_ORDERS = np.datetime64("2022-11-03T14:20:52.186", "ms")
FIRST_ORDER_COUNT = 10

# Trading: orders are placed on weekdays 08:00-19:00 from the day after loading until the
# snapshot's last change; the payments run flips `paid` at 07:55 on the due date.
FIRST_TRADING_DAY = np.datetime64("2022-11-04", "D")
PERIOD_END = np.datetime64("2024-11-15T14:40:10.188", "ms")
OPENS_MS = 8 * MS_PER_HOUR
CLOSES_MS = 19 * MS_PER_HOUR
PAYMENTS_RUN_MS = 7 * MS_PER_HOUR + 55 * 60_000 + 11_000


def is_weekday(days: np.ndarray) -> np.ndarray:
    """True for Monday to Friday (datetime64[D] input)."""
    return np.is_busday(days.astype("datetime64[D]"))


def trading_days() -> np.ndarray:
    """Every trading day of the seeded period (datetime64[D])."""
    last = PERIOD_END.astype("datetime64[D]")
    days = np.arange(FIRST_TRADING_DAY, last + 1, dtype="datetime64[D]")
    return days[is_weekday(days)]


def trading_ms(days: np.ndarray) -> np.ndarray:
    """Milliseconds the shop is open on each day (the period's last day ends early)."""
    open_ms = np.full(days.shape, CLOSES_MS - OPENS_MS, dtype=np.int64)
    last = PERIOD_END.astype("datetime64[D]")
    end_of_last = int((PERIOD_END - last.astype("datetime64[ms]")).astype(np.int64))
    open_ms[days == last] = end_of_last - OPENS_MS
    return open_ms


def trading_hours() -> float:
    """Trading hours in the seeded period: the denominator of the order rate."""
    return float(trading_ms(trading_days()).sum()) / MS_PER_HOUR


def payments_run_at(days: np.ndarray) -> np.ndarray:
    """When the payments run of each day commits: 07:55:11 plus a per-day millisecond.

    Every payment flipped by one day's run shares this one timestamp, as in the real data.
    """
    day_numbers = days.astype("datetime64[D]").astype(np.int64)
    jitter = (day_numbers * 7919) % 400 + 550
    return days.astype("datetime64[D]").astype("datetime64[ms]") + (PAYMENTS_RUN_MS + jitter)

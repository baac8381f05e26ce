"""Generated tables shared by tests and benchmarks (fixed seeds, nothing downloaded)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def clinic(n: int = 4000, seed: int = 7) -> pd.DataFrame:
    """A small clinic table a steward might bring: skewed numbers, exact zeros, a date, an id.

    Ages 18–94, blood pressures with a 35% spike at 120, cholesterol about 100–400,
    day-first admission dates, lengths of stay 0–27, costs with 20% exact zeros and a long
    tail, diagnosis codes, a 0/1 smoker flag, BMI with 8% missing, and a row id.
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 95, n)
    sbp = np.clip(np.round(rng.normal(120 + 0.4 * (age - 50), 15)), 80, 220).astype(int)
    sbp[rng.random(n) < 0.35] = 120
    dbp = np.clip(np.round(sbp * 0.6 + rng.normal(5, 8)), 40, 140).astype(int)
    admitted = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D")
    bmi = np.round(rng.normal(27, 5, n), 1)
    frame = pd.DataFrame({
        "patient_id": np.arange(100000, 100000 + n), "age": age, "sex": rng.choice(["F", "M"], n), "sbp": sbp,
        "dbp": dbp, "cholesterol": np.round(rng.lognormal(5.3, 0.2, n), 1), "admitted": admitted.strftime("%d/%m/%Y"),
        "length_of_stay": rng.geometric(0.25, n) - 1,
        "cost": np.round(np.where(rng.random(n) < 0.2, 0, rng.lognormal(8, 1.2, n)), 2),
        "diagnosis": rng.choice(["I10", "E11", "J45", "I25", "N18", "F32"], n, p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.1]),
        "smoker": rng.choice([0, 1], n, p=[0.75, 0.25]), "bmi": bmi,
    })
    frame.loc[rng.random(n) < 0.08, "bmi"] = np.nan
    return frame


def sessions(n: int = 12_330, seed: int = 7) -> pd.DataFrame:
    """Web shop sessions: counts, zero-heavy durations and page values, small rates, a grid.

    Page counts with 46–79% zeros and their durations (exactly 0 with them, else
    log-normal with 4–6 decimals), bounce and exit rates in [0, 0.2] written with 8
    decimals (45% of bounce rates exactly 0, none of the exit rates), page values with 78%
    zeros, a special-day closeness on {0, 0.2, …, 1} (90% zeros), month names, integer
    codes for operating system, browser, region and traffic type, a visitor type and two
    booleans.
    """
    rng = np.random.default_rng(seed)
    revenue = rng.random(n) < 0.155
    admin = np.where(rng.random(n) < 0.46, 0, rng.geometric(0.25, n)).clip(0, 27)
    info = np.where(rng.random(n) < 0.79, 0, rng.geometric(0.5, n)).clip(0, 24)
    product = np.exp(rng.normal(2.9, 1.1, n)).astype(int).clip(0, 705)
    bounce = np.where(rng.random(n) < 0.45, 0.0, np.round(rng.beta(0.8, 30, n), 8)).clip(0, 0.2)
    page_value = np.where(revenue, np.where(rng.random(n) < 0.25, 0.0, np.round(np.exp(rng.normal(3.2, 0.9, n)), 6)),
                          np.where(rng.random(n) < 0.9, 0.0, np.round(np.exp(rng.normal(2.0, 1.2, n)), 6)))

    def codes(weights: list[float]) -> np.ndarray:
        w = np.asarray(weights, dtype=np.float64)
        return rng.choice(np.arange(1, w.size + 1), n, p=w / w.sum())

    months = ["Feb", "Mar", "May", "June", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    return pd.DataFrame({
        "Administrative": admin,
        "Administrative_Duration": np.where(admin == 0, 0.0, np.round(np.exp(rng.normal(4.0, 1.2, n)) * np.sqrt(admin), 6)),
        "Informational": info,
        "Informational_Duration": np.where(info == 0, 0.0, np.round(np.exp(rng.normal(4.2, 1.3, n)), 4)),
        "ProductRelated": product,
        "ProductRelated_Duration": np.where(product == 0, 0.0, np.round(product * np.exp(rng.normal(3.5, 0.7, n)), 6)),
        "BounceRates": bounce,
        "ExitRates": np.round(np.clip(bounce + rng.beta(1.5, 30, n), 0, 0.2), 8),
        "PageValues": page_value,
        "SpecialDay": np.where(rng.random(n) < 0.9, 0.0, rng.choice([0.2, 0.4, 0.6, 0.8, 1.0], n)),
        "Month": rng.choice(months, n, p=[.015, .155, .273, .023, .035, .035, .036, .045, .243, .14]),
        "OperatingSystems": codes([21, 53.5, 20.7, 3.9, .05, .15, .05, .65]),
        "Browser": codes([20, 64, 1, 6, 4, 1.4, .4, 1.1, .01, 1.3, .05, .1, .5]),
        "Region": codes([39, 9, 19, 10, 3, 6.5, 6, 3.5, 4]),
        "TrafficType": codes([20, 32, 17, 9, 2, 4, .3, 3, .3, 4, 2, .01, 6, .1, .3, .03, .01, .1, .1, 1.6]),
        "VisitorType": rng.choice(["Returning_Visitor", "New_Visitor", "Other"], n, p=[.855, .138, .007]),
        "Weekend": rng.random(n) < 0.23,
        "Revenue": revenue,
    })


def zip_codes(n: int = 6_000, seed: int = 0) -> pd.DataFrame:
    """US-style 5-digit ZIP codes (uniform over 00500–99998, so 9.5% written with a leading
    zero) beside a count of visits."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"zip": [f"{z:05d}" for z in rng.integers(500, 99_999, n)], "visits": rng.poisson(3, n)})


def weather(n: int = 6_000, seed: int = 3) -> pd.DataFrame:
    """Station readings: temperatures N(8, 12) with one decimal, humidity, pressure, wind
    speeds |N(0, 15)|, rain with 80% zeros, ZIP codes, 10-minute timestamps, a yes/no flag
    and a score in [0, 1] with three decimals."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "station": rng.choice(["A01", "B02", "C03", "D04"], n),
        "temp_c": np.round(rng.normal(8, 12, n), 1),
        "humidity_pct": np.round(rng.uniform(20, 100, n)).astype(int),
        "pressure_hpa": np.round(rng.normal(1013, 8, n), 1),
        "wind_kmh": np.round(np.abs(rng.normal(0, 15, n)), 0),
        "rain_mm": np.where(rng.random(n) < 0.8, 0.0, np.round(rng.exponential(3, n), 1)),
        "zip": [f"{z:05d}" for z in rng.integers(500, 99_999, n)],
        "reading_time": (pd.Timestamp("2021-01-01")
                         + pd.to_timedelta(rng.integers(0, 365 * 24 * 6, n) * 10, unit="min")).strftime("%Y-%m-%d %H:%M"),
        "alert": rng.choice(["yes", "no"], n, p=[0.1, 0.9]),
        "score": np.round(rng.beta(2, 5, n), 3),
    })


def transactions(n: int = 8_000, seed: int = 11) -> pd.DataFrame:
    """Card transactions: an id, timestamps to the second, 4-digit merchant category codes
    (15 codes, 2–20% each), log-normal amounts in cents with 4% refunds (negative), balances
    either side of 0, a currency, a true/false flag, instalments on {1, 3, 6, 12} and a 0.6%
    fraud flag."""
    rng = np.random.default_rng(seed)
    mcc = rng.choice([5411, 5812, 5541, 5999, 4111, 5311, 5912, 7011, 4814, 5732, 5691, 5944, 4121, 7832, 8011],
                     n, p=np.array([20, 15, 12, 8, 7, 6, 5, 5, 4, 4, 3, 3, 3, 3, 2]) / 100)
    amount = np.round(np.exp(rng.normal(3.3, 1.1, n)), 2)
    amount[rng.random(n) < 0.04] *= -1
    ts = pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 60 * 24 * 3600, n), unit="s")
    return pd.DataFrame({
        "txn_id": [f"T{100000 + i}" for i in range(n)],
        "timestamp": ts.strftime("%Y-%m-%d %H:%M:%S"),
        "mcc": mcc,
        "amount": amount,
        "currency": rng.choice(["EUR", "USD", "GBP"], n, p=[0.7, 0.2, 0.1]),
        "balance_after": np.round(rng.normal(1500, 2500, n), 2),
        "card_present": rng.choice(["true", "false"], n, p=[0.6, 0.4]),
        "installments": rng.choice([1, 1, 1, 1, 3, 6, 12], n),
        "is_fraud": (rng.random(n) < 0.006).astype(int),
    })


def survey(n: int = 3_000, seed: int = 11) -> pd.DataFrame:
    """A small survey (write it with ``sep=";"``): Likert answers 1–5 with 7% skipped, ages
    18–79 with 2% blank, incomes in hundreds with 5% "Prefer not to say", household sizes,
    regions, design weights with four decimals and completion dates."""
    rng = np.random.default_rng(seed)

    def likert() -> np.ndarray:
        return rng.choice([1, 2, 3, 4, 5], n, p=[0.1, 0.15, 0.3, 0.3, 0.15]).astype(object)

    frame = pd.DataFrame({
        "respondent": np.arange(1, n + 1),
        "q1_satisfaction": likert(), "q2_recommend": likert(), "q3_ease": likert(),
        "age_years": rng.integers(18, 80, n).astype(object),
        "income": np.round(rng.lognormal(10.5, 0.6, n), -2).astype(object),
        "household": rng.choice([1, 2, 3, 4, 5, 6], n, p=[0.25, 0.3, 0.2, 0.15, 0.07, 0.03]),
        "region": rng.choice(["North", "South", "East", "West", "Central"], n),
        "weight": np.round(rng.uniform(0.3, 3.0, n), 4),
        "completed": (pd.Timestamp("2025-06-01") + pd.to_timedelta(rng.integers(0, 30, n), unit="D")).strftime("%Y-%m-%d"),
    })
    for c in ("q1_satisfaction", "q2_recommend", "q3_ease"):
        frame.loc[rng.random(n) < 0.07, c] = np.nan
    frame.loc[rng.random(n) < 0.05, "income"] = "Prefer not to say"
    frame.loc[rng.random(n) < 0.02, "age_years"] = ""
    return frame


def staff(n: int = 5_000, seed: int = 5) -> pd.DataFrame:
    """Staff records: an id, names and e-mails (free text), departments, 50 cities (Zipf),
    salaries with cents, bonuses with 70% zeros, hire dates over 19 years, ratings on
    {1, 1.5, …, 5}, a Y/N flag and a manager id."""
    rng = np.random.default_rng(seed)
    first = np.array(["Ana", "Ben", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jia", "Kai", "Lea"])
    last = np.array(["Smith", "Garcia", "Lee", "Novak", "Okafor", "Rossi", "Tanaka", "Weber", "Khan", "Silva"])
    w = 1 / np.arange(1, 51)
    return pd.DataFrame({
        "employee_id": rng.permutation(np.arange(10000, 10000 + n)),
        "name": [f"{a} {b}" for a, b in zip(rng.choice(first, n), rng.choice(last, n), strict=True)],
        "email": [f"user{i}@example.com" for i in rng.permutation(n)],
        "department": rng.choice(["Sales", "Engineering", "Support", "HR", "Finance", "Legal"], n,
                                 p=[0.3, 0.3, 0.2, 0.08, 0.08, 0.04]),
        "city": rng.choice([f"City{i:02d}" for i in range(50)], n, p=w / w.sum()),
        "salary": np.round(rng.lognormal(11, 0.35, n), 2),
        "bonus": np.where(rng.random(n) < 0.7, 0, np.round(rng.lognormal(8, 0.8, n), -1)),
        "hire_date": (pd.Timestamp("2005-01-01") + pd.to_timedelta(rng.integers(0, 7000, n), unit="D")).strftime("%Y-%m-%d"),
        "rating": rng.choice(np.arange(2, 11) / 2, n),
        "remote": rng.choice(["Y", "N"], n, p=[0.35, 0.65]),
        "manager_id": rng.choice(np.arange(10000, 10200), n),
    })


def ledger(n: int = 4_000, seed: int = 2) -> pd.DataFrame:
    """Columns recorded as negatives only: write-offs (log-normal amounts with two decimals,
    all below 0), daily minimum temperatures below freezing (one decimal, up to -0.1) and
    drawdowns in percent (down to about -60), beside a region and positive unit counts."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "region": rng.choice(["north", "south", "east", "west"], n),
        "write_off": -np.round(np.exp(rng.normal(3.0, 1.3, n)), 2),
        "min_temp_c": np.minimum(np.round(rng.normal(-20, 6, n), 1), -0.1),
        "drawdown_pct": -np.maximum(np.round(rng.beta(2, 8, n) * 100, 1), 0.1),
        "units": rng.integers(1, 500, n),
    })


def housing(n: int = 5_000, seed: int = 6) -> pd.DataFrame:
    """Dwellings: years built 1950–2020 (uniform), owners' birth years about 1975 ± 15
    (1920–2006), monthly rents about 1,800 ± 250 in whole units, rooms 1–7 and a city."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "city": rng.choice(["Avon", "Bree", "Cole", "Dale", "Eyre"], n),
        "year_built": rng.integers(1950, 2021, n),
        "birth_year": np.clip(np.round(rng.normal(1975, 15, n)), 1920, 2006).astype(int),
        "rent": np.round(rng.normal(1800, 250, n)).astype(int),
        "rooms": rng.integers(1, 8, n),
    })


def payroll(n: int = 3_000, seed: int = 4) -> pd.DataFrame:
    """A pay table as exported from a spreadsheet: salaries written "$51,549.21" (log-normal,
    10,000-170,000), raises written "2.4%" (N(3, 1.5), 2% below 0), departments, 1-5 scores."""
    rng = np.random.default_rng(seed)
    salary = np.clip(rng.lognormal(10.8, 0.4, n), 10_000, None)
    raises = np.round(rng.normal(3.0, 1.5, n), 1)
    return pd.DataFrame({
        "salary": [f"${v:,.2f}" for v in salary],
        "raise": [f"{v:.1f}%" for v in raises],
        "dept": rng.choice(list("ABCD"), n, p=[0.4, 0.3, 0.2, 0.1]),
        "score": rng.integers(1, 6, n),
    })

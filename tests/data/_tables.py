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

"""Column ``format``: strict reading (the same in DuckDB SQL and pandas), writing back, DP choice without metadata."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from dpsynth import api
from dpsynth.data import _parse
from dpsynth.data.domain import DATETIME_FORMATS, Column, Domain, NumberFormat
from dpsynth.data.infer import (
    DATE_FORMATS,
    NUMBER_FORMATS,
    _format_cells,
    _format_counts,
    _measure_formats,
    _measure_profile,
    _release_formats,
    placeholder,
)
from dpsynth.data.io import Table, validate
from dpsynth.data.output import formatted_frame, write_chunks
from dpsynth.errors import InvalidDataError, MetadataError
from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget
from dpsynth.synth import create
from tests.data._noise import assert_gaussian_scale
from tests.data._tables import zip_codes

BUDGET = PrivacyBudget(1.0, 1e-5)
DECLARED_NUMBER_FORMATS = (
    *NUMBER_FORMATS,
    NumberFormat(prefix="€ ", suffix=" EUR", thousands=" "),
    NumberFormat(prefix="CHF ", thousands="'"),
    NumberFormat(prefix="Rs.", thousands=","),
    NumberFormat(suffix="(x)"),
)
JUNK = [None, "", "  ", "nan", "inf", "abc", "1_000", "0x10", "1e5", "--1", "$", "%", ",", ".", "1,2,3", "2020-12-31",
        "12/31/2020", "Dec 31 2020", "1.234,5", "$1,234.50", "27.8%", " 7 "]


def _number_texts(fmt: NumberFormat, rng: np.random.Generator, n: int) -> list[str | None]:
    """Values in the format (several spellings), near misses and junk."""
    mags = 10.0 ** rng.integers(-3, 10, n)
    x = rng.uniform(-1, 1, n) * mags
    out: list[str | None] = []
    for i, v in enumerate(x):
        kind = i % 8
        if kind == 0:
            out.append(_parse.format_number(fmt, v))
        elif kind == 1:
            out.append(_parse.format_number(fmt, v, int(rng.integers(0, 4))))
        elif kind == 2:  # ungrouped digits
            out.append(_parse.format_number(NumberFormat(prefix=fmt.prefix, suffix=fmt.suffix, decimal=fmt.decimal),
                                            round(v, 2)) if fmt.prefix or fmt.suffix or fmt.decimal != "." else repr(v))
        elif kind == 3:  # sign after the prefix, or both
            t = _parse.format_number(fmt, abs(v))
            out.append(fmt.prefix + "-" + t[len(fmt.prefix):] if i % 16 == 3 else "-" + fmt.prefix + "-"
                       + t[len(fmt.prefix):])
        elif kind == 4:  # in another format
            other = NUMBER_FORMATS[int(rng.integers(0, len(NUMBER_FORMATS)))]
            out.append(_parse.format_number(other, v, int(rng.integers(0, 3))))
        elif kind == 5:  # a broken group or a missing affix
            t = _parse.format_number(fmt, v * 1e4)
            out.append(t.replace(fmt.thousands, fmt.thousands * 2, 1) if fmt.thousands and i % 16 == 5
                       else t[len(fmt.prefix):] if fmt.prefix else t + "%")
        elif kind == 6:
            out.append(f"  {_parse.format_number(fmt, v)} ")
        else:
            out.append(JUNK[int(rng.integers(0, len(JUNK)))])
    return out


def _date_texts(fmt: str, rng: np.random.Generator, n: int) -> list[str | None]:
    # Years 1906-2096 (pandas reads ISO text beyond 2262 as missing, DuckDB does not: a
    # limit of the plain reading, not of formats).
    secs = rng.integers(-2_000_000_000, 4_000_000_000, n).astype(float)
    out: list[str | None] = []
    for i, s in enumerate(secs):
        kind = i % 6
        t = _parse.format_datetime(fmt, s)
        if kind == 0:
            out.append(t)
        elif kind == 1:  # one-digit fields
            out.append(re.sub(r"(?<![0-9])0([0-9])", r"\1", t))
        elif kind == 2:  # impossible dates (day 31 of a short month, month 31) and times
            out.append(re.sub(r"(?<![0-9])([0-9]{2})(?=[/.-])", "31", t, count=1) if i % 12 == 2 else
                       re.sub(r"[0-9]{2}:", "24:", t, count=1) if ":" in t else t.replace("1", "0") + "0")
        elif kind == 3:
            out.append(_parse.format_datetime(DATETIME_FORMATS[int(rng.integers(0, len(DATETIME_FORMATS)))], s))
        elif kind == 4:
            out.append(f" {t}  ")
        else:
            out.append(JUNK[int(rng.integers(0, len(JUNK)))])
    return out


def _sql_numbers(col: Column, values: list[str | None]) -> np.ndarray:
    table = Table.from_frame(pd.DataFrame({"v": pd.Series(values, dtype=object)}))
    x = _parse.sql_number(col, _parse.quote_ident("v"))
    rows = table.connection.execute(f"SELECT {x} FROM {table.relation_name}").fetchall()
    return np.array([np.nan if r[0] is None else r[0] for r in rows], dtype=np.float64)


@pytest.mark.parametrize("seed", [0, 1])
def test_sql_and_pandas_read_formatted_numbers_alike(seed):
    rng = np.random.default_rng(seed)
    for fmt in DECLARED_NUMBER_FORMATS:
        col = Column("v", kind="numeric", format=fmt.to_dict())
        values = _number_texts(fmt, rng, 400)
        got = _parse.numbers(col, pd.Series(values, dtype=object))
        sql = _sql_numbers(col, values)
        sql[~np.isfinite(sql)] = np.nan
        bad = np.flatnonzero(~((got == sql) | (np.isnan(got) & np.isnan(sql))))
        assert bad.size == 0, (fmt, [values[i] for i in bad[:5]], got[bad[:5]], sql[bad[:5]])
        # Both outcomes occur: the test data exercise the strict rule.
        assert 0.3 < np.isnan(got).mean() < 0.8, fmt


@pytest.mark.parametrize("seed", [0, 1])
def test_sql_and_pandas_read_formatted_dates_alike(seed):
    rng = np.random.default_rng(seed)
    for fmt in DATETIME_FORMATS:
        col = Column("v", kind="datetime", format=fmt)
        values = _date_texts(fmt, rng, 240)
        got = _parse.numbers(col, pd.Series(values, dtype=object))
        sql = _sql_numbers(col, values)
        bad = np.flatnonzero(~((got == sql) | (np.isnan(got) & np.isnan(sql))))
        assert bad.size == 0, (fmt, [values[i] for i in bad[:5]], got[bad[:5]], sql[bad[:5]])
        assert 0.2 < np.isnan(got).mean() < 0.8, fmt


def test_strict_reading_examples():
    money = Column("m", kind="numeric", format={"prefix": "$", "thousands": ","})
    vals = ["$1,234.50", "-$5", "$-5", "$1234", " $3 ", "$1,23", "1,234", "$ 12", "-$-5", "$1e3", "12"]
    got = _parse.numbers(money, pd.Series(vals, dtype=object))
    np.testing.assert_array_equal(got, [1234.5, -5, -5, 1234, 3] + [np.nan] * 6)
    pct = Column("p", kind="numeric", format={"suffix": "%", "decimal": ","})
    np.testing.assert_array_equal(_parse.numbers(pct, pd.Series(["27,8%", "27.8%", "3%"], dtype=object)),
                                  [27.8, np.nan, 3.0])
    day = Column("d", kind="datetime", format="%d.%m.%Y")
    got = _parse.numbers(day, pd.Series(["31.12.2020", "1.2.2020", "12/31/2020", "30.02.2020", "2020-12-31"],
                                        dtype=object))
    assert got[0] == pd.Timestamp("2020-12-31").timestamp() and got[1] == pd.Timestamp("2020-02-01").timestamp()
    assert np.isnan(got[2:]).all()
    mon = Column("d", kind="datetime", format="%b %d %Y")
    assert _parse.numbers(mon, pd.Series(["Dec 31 2020", "dec 31 2020"], dtype=object))[1:].tolist() == [None] or \
        np.isnan(_parse.numbers(mon, pd.Series(["dec 31 2020"], dtype=object))[0])


@pytest.mark.parametrize("fmt", DECLARED_NUMBER_FORMATS, ids=str)
def test_numbers_written_in_a_format_read_back(fmt):
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 300) * 10.0 ** rng.integers(-4, 13, 300)
    col = Column("v", kind="numeric", format=fmt.to_dict())
    exact = [_parse.format_number(fmt, v) for v in x]
    np.testing.assert_array_equal(_parse.numbers(col, pd.Series(exact, dtype=object)), x)
    np.testing.assert_array_equal(_sql_numbers(col, exact), x)
    cents = [_parse.format_number(fmt, v, 2) for v in x]
    np.testing.assert_allclose(_parse.numbers(col, pd.Series(cents, dtype=object)), np.round(x, 2), rtol=1e-15,
                               atol=0)
    assert all(re.search(r"[0-9]{2}" + re.escape(fmt.suffix) + "$", t) for t in cents)


@pytest.mark.parametrize("fmt", DATETIME_FORMATS)
def test_dates_written_in_a_format_read_back(fmt):
    rng = np.random.default_rng(4)
    secs = rng.integers(-2_000_000_000, 4_000_000_000, 200).astype(float) + rng.uniform(0, 1, 200)
    unit = 1.0 if "%S" in fmt else 60.0 if "%M" in fmt else 86400.0
    col = Column("v", kind="datetime", format=fmt)
    texts = [_parse.format_datetime(fmt, s) for s in secs]
    np.testing.assert_array_equal(_parse.numbers(col, pd.Series(texts, dtype=object)), np.floor(secs / unit) * unit)


def test_decoded_columns_are_written_in_their_format(tmp_path):
    dom = Domain([
        Column("money", kind="numeric", lower=0, upper=1e7, step=0.01, nullable=True,
               format={"prefix": "$", "thousands": ","}),
        Column("n", kind="numeric", lower=0, upper=1e7, integer=True, format={"thousands": ".", "decimal": ","}),
        Column("rate", kind="numeric", lower=0, upper=100, format={"suffix": "%"}),
        Column("day", kind="datetime", lower="2000-01-01", upper="2030-01-01", format="%m/%d/%Y", nullable=True),
        Column("plain", kind="numeric", lower=0, upper=10),
    ])
    frame = pd.DataFrame({
        "money": [1234.5, 0.1 + 0.2, np.nan], "n": pd.array([1234567, 0, 12], dtype="Int64"),
        "rate": [27.8, 3.0, 100.0],
        "day": pd.Series([pd.Timestamp("2020-12-31 13:00"), pd.Timestamp("2001-01-05"), pd.NaT]), "plain": [1.5, 2.0, 3.25],
    })
    out = formatted_frame(frame, dom)
    assert out["money"].tolist() == ["$1,234.50", "$0.30", None]
    assert out["n"].tolist() == ["1.234.567", "0", "12"]
    assert out["rate"].tolist() == ["27.8%", "3%", "100%"]
    assert out["day"].tolist() == ["12/31/2020", "01/05/2001", None]
    assert out["plain"].tolist() == [1.5, 2.0, 3.25]
    path = tmp_path / "s.csv"
    write_chunks([frame], path, domain=dom)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert back["money"].tolist() == ["$1,234.50", "$0.30", ""] and back["day"][0] == "12/31/2020"
    # What is written reads back through the metadata (the same values, at the format's precision).
    table = Table.from_frame(back.replace({"": None}))
    validate(table, dom)


@pytest.mark.parametrize(("spec", "kind", "message"), [
    ({"prefix": "1$"}, "numeric", "without digits or signs"),
    ({"thousands": ";"}, "numeric", "thousands must be one of"),
    ({"decimal": ";"}, "numeric", "decimal must be one of"),
    ({"thousands": ",", "decimal": ","}, "numeric", "both ','"),
    ({"currency": "$"}, "numeric", "unknown key(s) ['currency']"),
    ({"prefix": 5}, "numeric", "must be a string"),
    ({"suffix": "% "}, "numeric", "may not start, nor suffix end, with a space"),
    ({}, "numeric", "plain number format"),
    ("%m/%d/%Y", "numeric", "must be an object"),
    ("%Y-%m-%d", "datetime", "is ISO 8601"),
    ("%d/%m/%y", "datetime", "must be one of"),
    ({"prefix": "$"}, "datetime", "must be one of"),
    ({"width": 1}, "numeric", "width must be a whole number of digits from 2"),
    ({"width": "5"}, "numeric", "width must be a whole number of digits from 2"),
    ({"width": 5, "thousands": ","}, "numeric", "cannot be combined with thousands"),
])
def test_bad_formats_are_one_line_metadata_errors(spec, kind, message):
    with pytest.raises(MetadataError) as err:
        Column.from_dict({"name": "x", "type": kind, "format": spec})
    assert message in str(err.value)
    assert len(err.value.problems) == 1 and "\n" not in err.value.problems[0]
    with pytest.raises(MetadataError, match="'format' applies to numeric/datetime columns"):
        Column.from_dict({"name": "x", "type": "categorical", "format": {"prefix": "$"}})


def test_formats_round_trip_through_metadata(tmp_path):
    cols = [Column("m", kind="numeric", format={"prefix": "€ ", "thousands": ".", "decimal": ","}),
            Column("d", kind="datetime", format="%b %d, %Y")]
    dom = Domain(cols)
    path = tmp_path / "meta.json"
    dom.to_json(path)
    doc = json.loads(path.read_text())
    assert doc["columns"][0]["format"] == {"prefix": "€ ", "thousands": ".", "decimal": ","}
    assert doc["columns"][1]["format"] == "%b %d, %Y"
    assert Domain.from_json(path) == dom
    assert isinstance(Domain.from_json(path)["m"].format, NumberFormat)


def test_validation_names_values_not_in_the_format():
    dom = Domain([Column("m", kind="numeric", format={"prefix": "$", "thousands": ","})])
    table = Table.from_frame(pd.DataFrame({"m": ["$1,234.50", "1234.50", "$12", "$1,23"]}))
    with pytest.raises(InvalidDataError) as err:
        validate(table, dom)
    text = str(err.value)
    assert "has 2 value(s) that are not in the column's format {\"prefix\": \"$\", \"thousands\": \",\"}" in text
    assert "'1234.50'" in text and "'$1,23'" in text


# -- without metadata: the format is chosen with DP --------------------------------------------
def formatted_frame_of(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = np.datetime64("2018-01-01") + rng.integers(0, 365 * 3, n).astype("timedelta64[D]")
    return pd.DataFrame({
        "money": [f"${v:,.0f}" for v in rng.lognormal(7, 1.2, n)],
        "rate": [f"{v:.1f}%" for v in rng.uniform(0, 60, n)],
        "day": [pd.Timestamp(d).strftime("%m/%d/%Y") for d in days],
        "kind": rng.choice(["a", "b", "c"], n),
    })


def test_a_csv_without_metadata_comes_back_numeric_and_in_its_formats(tmp_path):
    df = formatted_frame_of()
    model = create("independent", random_state=0).fit(api.load_private(df), BUDGET)
    dom = model.domain_
    assert dom["money"].kind == "numeric" and dom["money"].format == NumberFormat(prefix="$", thousands=",")
    assert dom["money"].integer
    assert dom["rate"].kind == "numeric" and dom["rate"].format == NumberFormat(suffix="%")
    assert dom["day"].kind == "datetime" and dom["day"].format == "%m/%d/%Y"
    assert dom["kind"].kind == "categorical" and dom["kind"].format is None
    assert dom["money"].lower is not None and 0 <= dom["money"].lower < 500 and dom["money"].upper >= 2000
    notes = model.privacy_report.notes
    assert any('format of \'money\': {"prefix": "$", "thousands": ","}' in n for n in notes)
    path = tmp_path / "synth.csv"
    write_chunks([model.sample(500, random_state=0)], path, domain=dom)
    back = pd.read_csv(path, dtype=str)
    assert back["money"].str.fullmatch(r"\$[0-9]{1,3}(,[0-9]{3})*").all()
    assert back["rate"].str.fullmatch(r"[0-9]+(\.[0-9]+)?%").all()
    assert back["day"].str.fullmatch(r"[0-9]{2}/[0-9]{2}/20(1[7-9]|2[01])").all()
    # The synthetic file reads back under the inferred metadata.
    validate(Table.from_frame(back), dom)
    money = _parse.numbers(dom["money"], back["money"])
    assert 300 < np.median(money) < 3000  # lognormal(7, 1.2): median e^7 ≈ 1100


def _format_choice(values: list[str], seed: int) -> NumberFormat | str | None:
    table = Table.from_frame(pd.DataFrame({"x": values}))
    col = placeholder("x")
    acc = Accountant(BUDGET, seeded=True)
    noise = NoiseSource(seed)
    prof = _measure_profile(table, col, 0.01, acc, noise, "t", BUDGET.rho, typed=False)
    found = _measure_formats(table, col, prof, 0.01, acc, noise, "t", BUDGET.rho)
    return None if found is None else found.fmt


def test_one_odd_row_moves_one_format_count_by_one():
    # Sensitivity: whatever the added row, the raw count vector moves by at most one in one cell.
    rng = np.random.default_rng(5)
    base = [f"${v:,.2f}" for v in rng.lognormal(6, 1, 300)] + ["12.5%", "1,234", "3,14", "12/31/2020", "abc"]
    col = placeholder("x")
    counts = _format_counts(Table.from_frame(pd.DataFrame({"x": base})), col)
    assert counts.sum() == 304 and len(counts) == len(_format_cells())
    odd = ["$1,234.50", "1,234", "1.234,5", "12,5%", "01/02/2020", "31.12.2020 10:00", "Dec 31, 2020", "€1", "12",
           "2020-01-01", "", "NA", "02134", "-£3", "7 €", "$-0", "Jan 1 2020", "1,234 €"]
    for row in odd:
        moved = _format_counts(Table.from_frame(pd.DataFrame({"x": [*base, row]})), col) - counts
        assert np.abs(moved).sum() <= 1 and set(np.unique(moved)) <= {0.0, 1.0}, row


def test_one_odd_row_does_not_flip_the_format():
    # Neighbouring datasets (one added row in another format, or one formatted value in a
    # text column): with the same noise the choice is the same; and a lone formatted value
    # never clears the detection threshold (a false positive has probability ALPHA).
    rng = np.random.default_rng(6)
    money = [f"${v:,.2f}" for v in rng.lognormal(6, 1, 2000)]
    words = list(rng.choice(["red", "green", "blue"], 2000))
    for seed in range(3):
        assert _format_choice(money, seed) == _format_choice([*money, "12.5%"], seed) == NumberFormat(
            prefix="$", thousands=",")
        assert _format_choice(words, seed) is None and _format_choice([*words, "$12"], seed) is None


def test_day_first_dates_are_told_from_month_first():
    rng = np.random.default_rng(7)
    days = np.datetime64("2019-01-01") + rng.integers(0, 730, 2000).astype("timedelta64[D]")
    dmy = [pd.Timestamp(d).strftime("%d/%m/%Y") for d in days]
    mdy = [pd.Timestamp(d).strftime("%m/%d/%Y") for d in days]
    assert _format_choice(dmy, 0) == "%d/%m/%Y" and _format_choice(mdy, 0) == "%m/%d/%Y"
    assert _format_choice([d.replace("/", ".") for d in dmy], 0) == "%d.%m.%Y"


def test_format_counts_are_noisy_at_the_charged_scale():
    # The release adds N(0, σ²) to every cell, σ² = 1/(2ρ): the sample variance over
    # releases is within the χ² interval, and the ledger records σ.
    values = ["$1,234", "12.5%", "3,14", "12/31/2020", "word"] * 40
    table = Table.from_frame(pd.DataFrame({"x": values}))
    col = placeholder("x")
    true = _format_counts(table, col)
    rho = 1e-3
    draws = []
    for seed in range(25):
        acc = Accountant(BUDGET, seeded=True)
        noisy, sigma = _release_formats(table, col, rho, acc, NoiseSource(seed), "t")
        assert acc.ledger[0].rho == pytest.approx(rho) and acc.ledger[0].noise_scale == pytest.approx(sigma)
        draws.append(noisy - true)
    assert_gaussian_scale(np.array(draws), 1.0 / (2.0 * rho))
    assert len(true) == 2 * len(NUMBER_FORMATS) + len(DATE_FORMATS)


def test_conditions_and_constraints_take_plain_or_formatted_numbers():
    from dpsynth.data.constraints import _scalar
    from dpsynth.synth._conditions import parse_conditions

    money = Column("m", kind="numeric", lower=0, upper=1e6, format={"prefix": "$", "thousands": ","})
    assert _scalar(money, 1000) == _scalar(money, "1000") == _scalar(money, "$1,000") == 1000.0
    with pytest.raises(ValueError, match="not a valid numeric value"):
        _scalar(money, "$1,00")
    dom = Domain([money])
    (cond,) = parse_conditions(dom, {"m": ("$1,000", 2000)})
    assert (cond.low, cond.high) == (1000.0, 2000.0)
    mask = cond.mask(pd.Series([999.0, 1500.0, 2500.0]))
    assert mask.tolist() == [False, True, False]


def test_evaluation_reads_formatted_text():
    from dpsynth.evaluate._prepare import prepare

    dom = Domain([Column("m", kind="numeric", lower=0, upper=1e4, format={"prefix": "$", "thousands": ","}),
                  Column("d", kind="datetime", lower="2020-01-01", upper="2021-01-01", format="%d.%m.%Y")])
    real = pd.DataFrame({"m": ["$1,234.50", "$12", "1234"], "d": ["31.12.2020", "01.01.2020", "2020-01-01"]})
    synth = pd.DataFrame({"m": [1234.5, 12.0, 7.0], "d": pd.to_datetime(["2020-12-31", "2020-01-01", "2020-06-01"])})
    prep = prepare(real, synth, dom)
    np.testing.assert_array_equal(prep.real.values("m"), [1234.5, 12.0, np.nan])
    np.testing.assert_array_equal(prep.real.values("d")[:2], prep.synthetic.values("d")[:2])
    assert prep.real.invalid("m").tolist() == [False, False, True]


def test_decimal_commas_in_a_semicolon_file_without_metadata(tmp_path):
    rng = np.random.default_rng(8)
    n = 2000
    x = rng.normal(50, 10, n).round(2)
    path = tmp_path / "eu.csv"
    pd.DataFrame({
        "wert": [f"{v:.2f}".replace(".", ",") for v in x],
        "betrag": [f"{v:,.2f} €".replace(",", "_").replace(".", ",").replace("_", ".") for v in x * 100],
        "datum": [pd.Timestamp("2021-01-01") + pd.Timedelta(days=int(d)) for d in rng.integers(0, 700, n)],
    }).assign(datum=lambda f: f["datum"].dt.strftime("%d.%m.%Y")).to_csv(path, sep=";", index=False)
    model = create("independent", random_state=0).fit(api.load_private(path), BUDGET)
    dom = model.domain_
    assert dom["wert"].format == NumberFormat(thousands=".", decimal=",") and not dom["wert"].integer
    assert dom["betrag"].format == NumberFormat(suffix=" €", thousands=".", decimal=",")
    assert dom["datum"].format == "%d.%m.%Y"
    out = tmp_path / "synth.csv"
    write_chunks([model.sample(300, random_state=0)], out, domain=dom)
    back = pd.read_csv(out, dtype=str)
    assert back["wert"].str.fullmatch(r"-?[0-9]+(,[0-9]+)?").all()
    assert back["betrag"].str.fullmatch(r"[0-9]{1,3}(\.[0-9]{3})*(,[0-9]+)? €").all()
    assert back["datum"].str.fullmatch(r"[0-9]{2}\.[0-9]{2}\.202[0-3]").all()
    assert 35 < np.median(_parse.numbers(dom["wert"], back["wert"])) < 65


def test_a_declared_formatted_column_whose_bins_are_inferred_keeps_its_text():
    # Declared bounds and format, no edges: the bin edges are inferred with DP, and the view
    # the fit reads keeps each value in its format. Written back as a plain number, every
    # value became unreadable and the fit stopped.
    rng = np.random.default_rng(2)
    n = 1500
    text = [f"{v:.3f}".replace(".", ",") for v in rng.random(n)]
    df = pd.DataFrame({"score": text, "g": rng.choice(["a", "b"], n)})
    meta = {"columns": [
        {"name": "score", "type": "numeric", "lower": 0, "upper": 1, "bins": 4,
         "format": {"decimal": ",", "thousands": "."}},
        {"name": "g", "type": "categorical", "categories": ["a", "b"]},
    ]}
    from dpsynth.data.private import PrivateData

    for detail in ((), ("atoms", "step", "shape")):
        data = PrivateData(Table.from_frame(df), Domain.from_json(meta), numeric_detail=detail)
        model = create("independent", random_state=0).fit(data, BUDGET)
        assert model.domain_["score"].edges is not None and len(model.domain_["score"].edges) >= 5
        out = model.sample(500, random_state=0)
        assert out["score"].between(0, 1).all() and out["score"].notna().all()
        assert abs(model.estimated_rows - n) < 0.1 * n


def test_zero_padded_codes_are_written_with_their_width_and_read_back():
    fmt = NumberFormat(width=5)
    assert [_parse.format_number(fmt, v) for v in (501, 2134.0, 123456)] == ["00501", "02134", "123456"]
    assert _parse.format_number(fmt, 7.25, 2) == "00007.25"
    col = Column("zip", kind="numeric", integer=True, format={"width": 5})
    assert col.format == fmt and col.to_dict()["format"] == {"width": 5}
    texts = ["00501", "02134", "90210", "501", "1e3", "abc"]
    np.testing.assert_array_equal(_parse.numbers(col, pd.Series(texts, dtype=object)),
                                  [501, 2134, 90210, 501, np.nan, np.nan])
    np.testing.assert_array_equal(_sql_numbers(col, texts), [501, 2134, 90210, 501, np.nan, np.nan])


def test_zip_codes_without_metadata_keep_their_leading_zeros(tmp_path):
    # 5-digit ZIP codes, 10% of them below 10000 and so written with a leading zero. Before,
    # those were text to the inferred numeric column: missing in the synthetic data, and the
    # lower bound rose to 10,000. Short codes ('007') stay categorical (tested elsewhere).
    real = zip_codes()
    n = len(real)
    path = tmp_path / "zips.csv"
    real.to_csv(path, index=False)
    model = create("independent", random_state=0).fit(api.load_private(path), PrivacyBudget(1.0, 1e-5))
    assert model.domain_["zip"].format == NumberFormat(width=5)
    out = tmp_path / "synthetic.csv"
    write_chunks([model.sample(n, random_state=0)], out, domain=model.domain_)
    back = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert back["zip"].str.fullmatch(r"[0-9]{5}").mean() > 0.99
    assert abs((back["zip"] < "10000").mean() - 0.095) < 0.03


def test_utc_timestamps_without_metadata_come_back_in_their_form(tmp_path):
    # ISO 8601 with a trailing Z (logs, APIs): not a plain ISO timestamp to the profile, so
    # the column was text and every synthetic value "(other)". The format release reads it.
    rng = np.random.default_rng(21)
    n = 4000
    ts = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365 * 86400, n), unit="s")
    real = pd.DataFrame({"event_time": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "kind": rng.choice(["a", "b"], n)})
    path = tmp_path / "events.csv"
    real.to_csv(path, index=False)
    model = create("independent", random_state=0).fit(api.load_private(path), PrivacyBudget(1.0, 1e-5))
    col = model.domain_["event_time"]
    assert col.kind == "datetime" and col.format == "%Y-%m-%dT%H:%M:%SZ"
    out = tmp_path / "synthetic.csv"
    write_chunks([model.sample(n, random_state=0)], out, domain=model.domain_)
    back = pd.read_csv(out, dtype=str, keep_default_na=False)["event_time"]
    assert back.str.fullmatch(r"2023-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z").mean() > 0.99

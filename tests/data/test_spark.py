"""The Spark engine answers the same counting queries as DuckDB, and a fit through it is the same fit.

Every test shares one ``local[2]`` session (``spark`` fixture in conftest.py); each test runs
a handful of Spark jobs at most, so the file stays well under a minute.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dpsynth import api
from dpsynth.cli import app
from dpsynth.data import queries as q
from dpsynth.data import spark as sp
from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.data.infer import infer_domain
from dpsynth.data.io import Table, marginal_counts_many, open_table, validate
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidDataError, InvalidParameterError
from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget
from dpsynth.synth.base import Synthesizer
from dpsynth.synth.registry import create

ROOT = Path(__file__).resolve().parents[2]
METADATA = ROOT / "metadata"
_CANDIDATES = [ROOT.parent / "shared" / "datasets", ROOT.parent.parent / "shared" / "datasets"]
DATASETS = next((p for p in _CANDIDATES if p.exists()), _CANDIDATES[0])
ACS = DATASETS / "acs_national2019" / "national2019.csv"

# Every column kind and coding mode, with awkward text the strict grammar must agree on.
META = {
    "missing_values": ["N"],
    "columns": [
        {"name": "cat", "type": "categorical", "categories": ["a", "b", "c", 3], "nullable": True},
        {"name": "ord", "type": "ordinal", "categories": ["lo", "mid", "hi"]},
        {"name": "age", "type": "numeric", "lower": 0, "upper": 20, "integer": True, "nullable": True},
        {"name": "wide", "type": "numeric", "lower": 0, "upper": 1000, "integer": True, "bins": 7},
        {"name": "x", "type": "numeric", "lower": -1.5, "upper": 2.5, "bins": 5, "nullable": True},
        {"name": "e", "type": "numeric", "lower": 0, "upper": 100, "edges": [0, 1, 10, 50, 100]},
        {"name": "ei", "type": "numeric", "lower": 0, "upper": 100, "integer": True, "edges": [0, 1, 10, 50, 100]},
        {"name": "t", "type": "datetime", "lower": "2020-01-01", "upper": "2021-01-01", "bins": 6, "nullable": True},
    ],
}


def _messy_frame(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """Awkward text for every column of META (spaces, exponents, signs, tokens).

    'wide' and 't' also hold values outside their bounds (the encoders clamp them;
    validation reports them); the other columns are valid.
    """
    rng = np.random.default_rng(seed)
    pick = lambda vals: rng.choice(np.array(vals, dtype=object), n)  # noqa: E731
    return pd.DataFrame({
        "cat": pick(["a", " b", "c ", "3", None, "N", ""]),
        "ord": pick(["lo", "mid", " hi"]),
        "age": pick(["0", "20", " 7 ", "+3", "1e1", "20.0", None]),
        "wide": pick(["0", "142", "143", "999", "1000", "571", "-10"]),
        "x": pick(["-1.5", "2.5", ".3", "0.7", "1.", "-0.7", "25e-1", "N", None]),
        "e": pick(["0", "1", "9.999", "10", "50", "100", "0.5", "49.99999"]),
        "ei": pick(["0", "1", "9", "10", "49", "50", "100", " 7"]),
        "t": pick(["2020-01-01", "2020-03-05 10:00", "2020-07-01T12:30:15.25", "2020-12-31 23:59:59", None,
                   "2019-06-01"]),
    })


@pytest.fixture(scope="module")
def messy(spark):
    frame = _messy_frame()
    domain = Domain.from_json(META)
    return frame, domain, Table.from_frame(frame), sp.SparkTable.from_dataframe(spark.createDataFrame(frame))


def _all_marginals(table, domain, k=2):
    disc = Discretizer(domain)
    cliques = [(a,) for a in domain.names] + list(itertools.combinations(domain.names, k))
    return marginal_counts_many(table, disc, cliques)


def test_counts_agree_on_every_column_kind(messy):
    _, domain, duck, spk = messy
    for check, table in ((validate, duck), (sp.validate, spk)):
        with pytest.raises(InvalidDataError) as got:
            check(table, domain)
        assert "'wide' has" in str(got.value) and "below the lower bound 0" in str(got.value)
        assert "'t' has" in str(got.value) and "'age'" not in str(got.value)
    want, got = _all_marginals(duck, domain), _all_marginals(spk, domain)
    assert want.keys() == got.keys()
    for c in want:
        np.testing.assert_array_equal(got[c], want[c], err_msg=str(c))
    assert sum(want[("cat",)]) == 600  # every row coded (the check can fail: a NULL code raises)


def test_counts_agree_with_typed_spark_columns(spark):
    # Typed columns (ints, floats, bools) are read as the text DuckDB writes for them.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "i": rng.integers(0, 5, 300),
        "f": np.where(rng.random(300) < 0.1, np.nan, rng.integers(0, 4, 300) + rng.choice([0.0, 0.5], 300)),
        "b": rng.random(300) < 0.3,  # read as the text 'True' / 'False', as in a CSV
    })
    domain = Domain.from_json({"columns": [
        {"name": "i", "type": "categorical", "categories": [0, 1, 2, 3, 4]},
        {"name": "f", "type": "numeric", "lower": 0, "upper": 4, "bins": 8, "nullable": True},
        {"name": "b", "type": "categorical", "categories": ["True", "False"]},
    ]})
    want = _all_marginals(Table.from_frame(frame), domain)
    got = _all_marginals(sp.SparkTable.from_dataframe(spark.createDataFrame(frame)), domain)
    for c in want:
        np.testing.assert_array_equal(got[c], want[c], err_msg=str(c))


@pytest.mark.skipif(not ACS.exists(), reason="bundled datasets not available")
def test_counts_agree_on_bundled_acs(spark):
    domain = Domain.from_json(METADATA / "acs_national2019.json")
    duck = Table.from_path(ACS)
    spk = open_table(str(ACS), engine="spark")
    assert isinstance(spk, sp.SparkTable)
    disc = Discretizer(domain)
    names = domain.names
    # One Spark job (at most 50 marginals per job): every column, and 2- and 3-way ones.
    cliques = [(a,) for a in names] + list(itertools.combinations(names[:7], 2)) + [names[:3], names[-3:]]
    want, got = marginal_counts_many(duck, disc, cliques), marginal_counts_many(spk, disc, cliques)
    for c in cliques:
        np.testing.assert_array_equal(got[c], want[c], err_msg=str(c))


def test_domain_inference_is_the_same_on_both_engines(messy):
    _, _, duck, spk = messy
    open_meta = Domain.from_json({"missing_values": ["N"], "columns": [
        {"name": "cat", "type": "categorical", "nullable": True},
        {"name": "wide", "type": "numeric", "integer": True},
        {"name": "e", "type": "numeric", "lower": 0, "upper": 100},
    ], "ignore": ["ord", "age", "x", "ei", "t"]})

    def run(table):
        acc = Accountant(PrivacyBudget(50.0, 1e-6))
        return infer_domain(table, open_meta, rho=acc.rho_budget / 2, accountant=acc, noise=NoiseSource(7),
                            step="infer")

    d_dom, d_view = run(duck)
    s_dom, s_view = run(spk)
    assert d_dom == s_dom
    disc = Discretizer(d_dom)
    cliques = [("cat",), ("wide",), ("e",), ("cat", "wide")]
    want, got = marginal_counts_many(d_view, disc, cliques), marginal_counts_many(s_view, disc, cliques)
    for c in cliques:
        np.testing.assert_array_equal(got[c], want[c], err_msg=str(c))


def test_query_workload_counts_agree(messy):
    frame, domain, duck, spk = messy
    rng = np.random.default_rng(5)
    workload = q.CompiledWorkload(domain, [
        q.TotalCount(),
        q.Marginal(("cat", "age")),
        q.Marginal(("t",)),
        q.Ranges.prefix(domain, ["x"]),
        q.Ranges.random(domain, ["e", "ei"], 40, rng),
        q.Halfspaces.random(["x", "e"], 30, rng),
    ])
    want = q.true_counts(q.private_rows(duck, domain), workload)
    got = sp.true_counts(spk, workload)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_array_equal(g, w, err_msg=f"group {i}")
    assert want[0][0] == len(frame)


def test_validation_lists_every_problem(spark):
    domain = Domain.from_json(META)
    bad = _messy_frame(50).astype(object)
    bad.loc[0, "cat"], bad.loc[1, "age"], bad.loc[3, "ord"] = "zz", "old", None
    bad["wide"], bad["t"], bad["extra"] = "3", "2020-05-05", "1"
    with pytest.raises(InvalidDataError) as got:
        sp.validate(sp.SparkTable.from_dataframe(spark.createDataFrame(bad)), domain)
    msg = str(got.value)
    for part in ("'extra'", "'cat' has 1 value(s) outside the declared categories (e.g. 'zz')",
                 "'age' has 1 value(s) that are not a finite number (e.g. 'old')",
                 "'ord' has 1 missing value(s) but is not nullable"):
        assert part in msg
    with pytest.raises(InvalidDataError, match="'cat': 1 value"):
        sp.SparkTable.from_dataframe(spark.createDataFrame(bad)).encoded(Discretizer(domain))


def test_fit_through_spark_equals_fit_through_duckdb(messy, tmp_path):
    # DuckDB through the Python API, Spark through the CLI: same CSV, same seed, same model.
    frame = messy[0]
    data = tmp_path / "messy.csv"
    frame.to_csv(data, index=False)
    small = {**META, "columns": [c for c in META["columns"] if c["name"] in ("cat", "age", "x", "ei")],
             "ignore": ["ord", "wide", "e", "t"]}
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(small))
    # Precision and within-bin shape are measured on both engines; atoms (exact values) on
    # DuckDB only: off here too.
    private = api.load_private(data, meta)
    private.numeric_detail = ("step", "shape")
    a = create("mst", random_state=11).fit(private, PrivacyBudget(5.0, 1e-6))
    model = tmp_path / "m.dps"
    r = CliRunner().invoke(app, ["fit", str(data), "-m", str(meta), "-g", "mst", "-e", "5", "-d", "1e-6",
                                 "-o", str(model), "--random-state", "11", "--engine", "spark"])
    assert r.exit_code == 0, r.output
    b = Synthesizer.load(model)
    pd.testing.assert_frame_equal(a.sample(200, random_state=1), b.sample(200, random_state=1))
    ra, rb = a.privacy_report.to_dict(), b.privacy_report.to_dict()
    for rep in (ra, rb):
        for entry in rep["ledger"]:
            entry.pop("time")
    spark_only = [n for n in rb["notes"] if "not measured on the Spark engine" in n]
    assert len(spark_only) == 1 and "atoms" in spark_only[0]
    rb["notes"].remove(spark_only[0])
    assert ra == rb
    assert any("inferred with DP" in n for n in ra["notes"])  # the DP quantile histograms ran on both
    # The precision and shape histograms ran on both, and released the same noisy counts.
    assert any("within-bin shape of" in n for n in ra["notes"])
    assert any(e["description"].startswith("histogram of 'x' over candidate grids") for e in ra["ledger"])


def test_numeric_detail_histograms_agree_on_both_engines(spark):
    # Cents, round hundreds with exact zeros, negatives, and a declared atom: the precision and
    # within-bin shape histograms Spark counts equal DuckDB's (same seed: same noisy counts,
    # hence the same steps, roundings and densities).
    from dpsynth.data import numeric

    rng = np.random.default_rng(5)
    n = 3000
    frame = pd.DataFrame({
        "price": np.round(rng.gamma(2.0, 20.0, n), 2).astype(str),
        "amount": np.where(rng.random(n) < 0.3, 0, np.round(rng.lognormal(7, 1, n), -2)).astype(int).astype(str),
        "delta": np.round(rng.normal(0, 50, n), 1).astype(str),
        "seen": (pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 500 * 24, n), unit="h"))
        .strftime("%Y-%m-%d %H:00"),
    })
    domain = Domain.from_json({"columns": [
        {"name": "price", "type": "numeric", "lower": 0, "upper": 1000},
        {"name": "amount", "type": "numeric", "lower": 0, "upper": 100_000, "integer": True, "atoms": [0]},
        {"name": "delta", "type": "numeric", "lower": -300, "upper": 300},
        {"name": "seen", "type": "datetime", "lower": "2020-01-01", "upper": "2021-06-01"},
    ]})

    def run(table):
        acc = Accountant(PrivacyBudget(5.0, 1e-6), seeded=True)
        data = PrivateData(table, domain, numeric_detail=("step", "shape")).bind(acc, NoiseSource(3))
        data.complete_domain(step="t")
        return data.domain, acc

    d_dom, d_acc = run(Table.from_frame(frame))
    s_dom, s_acc = run(sp.SparkTable.from_dataframe(spark.createDataFrame(frame)))
    assert d_dom == s_dom
    assert d_dom["price"].step == pytest.approx(0.01) and d_dom["amount"].step == 100
    assert d_dom["seen"].step == 3600  # whole hours
    assert all(d_dom[c].density is not None for c in ("price", "amount", "delta"))
    assert [e.description for e in d_acc.report().ledger] == [e.description for e in s_acc.report().ledger]
    # The raw counts themselves, with the declared atom's rows left out of the shape.
    disc_col = d_dom["amount"]
    from dpsynth.data.discretize import _Coder

    coder = _Coder.build(disc_col)
    cuts = np.unique(np.concatenate(numeric._bin_cuts(coder)))
    duck_reads = numeric._Reads(Table.from_frame(frame), list(domain))
    spark_reads = numeric._Reads(sp.SparkTable.from_dataframe(spark.createDataFrame(frame)), list(domain))
    np.testing.assert_array_equal(spark_reads.shape_counts("amount", coder, cuts),
                                  duck_reads.shape_counts("amount", coder, cuts))
    chain = numeric.step_chain(domain["price"])
    np.testing.assert_array_equal(spark_reads.step_cells("price", chain), duck_reads.step_cells("price", chain))
    assert duck_reads.shape_counts("amount", coder, cuts).sum() == pytest.approx((frame["amount"] != "0").sum())
    duck_reads.close()


def test_row_queries_are_refused_on_spark(messy):
    _, domain, _, spk = messy
    data = PrivateData(spk, domain, validate_data=False).bind(Accountant(PrivacyBudget(1.0, 1e-6)), NoiseSource(0))
    with pytest.raises(InvalidParameterError, match="generator 'pe' cannot run on engine='spark'"):
        data.nearest_neighbour_votes(lambda f: np.zeros((len(f), 1)), np.zeros((2, 1)), sigma=1.0, step="pe")
    with pytest.raises(InvalidParameterError, match="'tldm'"):
        data.encoded_rows(lambda f: np.zeros((len(f), 1)))
    assert data.accountant.rho_spent == 0.0  # refused before any charge
    with pytest.raises(InvalidParameterError, match="never collects"):
        spk.to_frame(domain)


def test_engines_do_not_mix(messy):
    _, _, _, spk = messy
    with pytest.raises(InvalidParameterError, match="engine='spark'"):
        Table.coerce(spk.frame)
    assert open_table(spk.frame).engine == "spark"
    with pytest.raises(InvalidParameterError, match="engine"):
        open_table(spk.frame, engine="polars")
    with pytest.raises(InvalidParameterError, match="Spark DataFrame or a path"):
        open_table(pd.DataFrame({"a": [1]}), engine="spark")


def test_spark_without_column_types_is_refused_before_any_charge(messy, tmp_path):
    # Without metadata only the header is public (both engines agree); inferring types and
    # missingness with DP runs on DuckDB only, so a Spark fit asks for the metadata.
    _, _, duck, spk = messy
    from dpsynth.data.infer import schema_domain

    assert schema_domain(spk) == schema_domain(duck)
    with pytest.raises(InvalidParameterError, match="the Spark engine needs metadata with every column's type"):
        api.load_private(spk.frame, engine="spark")
    with pytest.raises(InvalidParameterError, match="every column's type and nullability"):
        PrivateData(spk, schema_domain(spk))
    data = tmp_path / "messy.csv"
    messy[0].to_csv(data, index=False)
    r = CliRunner().invoke(app, ["fit", str(data), "-g", "mst", "-e", "1", "-o", str(tmp_path / "m.dps"),
                                 "--engine", "spark"])
    assert r.exit_code != 0
    assert "the Spark engine needs metadata" in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "m.dps").exists()


def test_clamped_view_holds_numbers_to_their_range(spark):
    # Edges without declared bounds: values beyond the outer edges count as rows at the ends.
    frame = pd.DataFrame({"v": ["-5", "50", "200", None, " 7"], "k": ["a", "b", "a", "b", "a"]})
    domain = Domain.from_json({"columns": [
        {"name": "v", "type": "numeric", "edges": [0, 10, 100], "nullable": True},
        {"name": "k", "type": "categorical", "categories": ["a", "b"]},
    ]})
    table = sp.SparkTable.from_dataframe(spark.createDataFrame(frame))
    view = sp.clamped_view(table, domain, validated=True)
    assert view is not table
    declared = Domain.from_json({"columns": [
        {"name": "v", "type": "numeric", "lower": 0, "upper": 100, "nullable": True},
        {"name": "k", "type": "categorical", "categories": ["a", "b"]},
    ]})
    assert sp.clamped_view(table, declared, validated=True) is table  # validation enforced the bounds
    # cell = grid edges <= x: 0 -> 1, 7 -> 1, 50 -> 2, 100 -> 3 (200 clamped); -5 would be cell 0
    np.testing.assert_array_equal(sp.grid_histogram(view, domain["v"], np.array([0.0, 50.0, 100.0])), [0, 2, 1, 1])


def test_formatted_columns_read_alike_on_both_engines(spark):
    # Random text in number and date formats: Spark's reading equals pandas' (which equals
    # DuckDB's, tests/data/test_formats.py), in one Spark job; then marginals over a
    # formatted domain (values beyond the bounds clamped to the bound's formatted text).
    from pyspark.sql import functions as F

    from dpsynth.data import _parse
    from dpsynth.data.discretize import clamped_view
    from dpsynth.data.domain import Column, NumberFormat
    from tests.data.test_formats import _date_texts, _number_texts

    rng = np.random.default_rng(11)
    fmts: list[NumberFormat | str] = [NumberFormat(prefix="$", thousands=","), NumberFormat(suffix="%", decimal=","),
                                      NumberFormat(prefix="CHF ", thousands="'"), "%d.%m.%Y %H:%M", "%b %d, %Y",
                                      "%m/%d/%Y"]
    cols = [Column(f"c{i}", kind="numeric" if isinstance(f, NumberFormat) else "datetime", nullable=True,
                   format=f.to_dict() if isinstance(f, NumberFormat) else f) for i, f in enumerate(fmts)]
    frame = pd.DataFrame({c.name: pd.Series(_number_texts(f, rng, 300) if isinstance(f, NumberFormat)
                                            else _date_texts(f, rng, 300), dtype=object)
                          for c, f in zip(cols, fmts, strict=True)})
    sdf = spark.createDataFrame(frame)
    got = sdf.select(*[sp.number(F, c, sdf[c.name]).alias(c.name) for c in cols]).toPandas()
    for c in cols:
        want = _parse.numbers(c, frame[c.name])
        have = got[c.name].to_numpy(dtype=np.float64, na_value=np.nan)
        np.testing.assert_array_equal(have, want, err_msg=c.name)
    money = Column("m", kind="numeric", lower=0, upper=5000, bins=5, format={"prefix": "$", "thousands": ","})
    day = Column("d", kind="datetime", lower="2020-01-01 12:00", upper="2020-12-31", bins=4, format="%m/%d/%Y")
    domain = Domain([money, day])
    small = pd.DataFrame({"m": ["$1,234.50", "$9,999", "-$5", "$0", "$4,999.99", "$12"] * 5,
                          "d": ["01/01/2020", "06/15/2020", "12/31/2021", "03/01/2019", "12/31/2020", "07/04/2020"] * 5})
    duck = marginal_counts_many(clamped_view(Table.from_frame(small), domain), Discretizer(domain),
                                [("m",), ("d",), ("m", "d")])
    spk = marginal_counts_many(sp.clamped_view(sp.SparkTable.from_dataframe(spark.createDataFrame(small)), domain),
                               Discretizer(domain), [("m",), ("d",), ("m", "d")])
    for key in duck:
        np.testing.assert_array_equal(spk[key], duck[key], err_msg=str(key))
    assert duck[("m",)].sum() == 30 and duck[("d",)].sum() == 30  # every row coded: clamped text reads back


def _arrow_batches(codes: np.ndarray, rows_per_batch: int, null_at: int | None = None) -> list:
    import pyarrow as pa

    out = []
    for a in range(0, len(codes), rows_per_batch):
        part = codes[a : a + rows_per_batch]
        cols = []
        for j in range(codes.shape[1]):
            mask = None if null_at is None else (np.arange(a, a + len(part)) == null_at)
            cols.append(pa.array(part[:, j].astype(np.int32), pa.int32(), mask=mask))
        out.append(pa.RecordBatch.from_arrays(cols, names=[f"c{j}" for j in range(codes.shape[1])]))
    return out


def _task_sums(counter, batches, cells):
    got = [np.zeros(n, dtype=np.int64) for n in cells]
    for b in counter(iter(batches)):
        for m, k, n in zip(*(b.column(c).to_numpy() for c in ("q", "k", "n")), strict=True):
            assert n > 0  # only non-empty cells leave the task
            got[m][k] += n
    return got


def test_task_counter_dense_sparse_steps_and_empty_input():
    # The per-task counter alone (no Spark): dense and sparse marginals, several numpy steps,
    # sparse merges, the 0-way total, an empty task, and bad codes refused.
    rng = np.random.default_rng(4)
    sizes = [3, 50, 40, 7]
    codes = np.stack([rng.integers(0, s, 5000) for s in sizes], axis=1)
    codes[:, 1] = np.minimum(codes[:, 1], codes[:, 2])  # correlated columns, some cells empty
    plan = [([0], [3]), ([1, 2], [50, 40]), ([3, 1, 2], [7, 50, 40]), ([], []), ([2, 0], [40, 3])]
    cells = [3, 2000, 14000, 1, 120]
    # dense up to 2000 cells: the 3-way marginal is counted sparsely; 700-row steps, merges at 2800 keys
    counter = sp._task_counter(plan, sizes, dense_cells=2000, step_rows=700)
    got = _task_sums(counter, _arrow_batches(codes, 300), cells)
    for (cols, dims), g in zip(plan, got, strict=True):
        want = np.zeros(dims, dtype=np.int64)
        np.add.at(want, tuple(codes[:, c] for c in cols), 1) if cols else want.fill(len(codes))
        np.testing.assert_array_equal(g, want.ravel())
    assert got[3][0] == 5000
    assert list(counter(iter([]))) == []
    import pyarrow as pa

    no_rows = pa.RecordBatch.from_arrays([pa.array([], pa.int32())] * 4, names=["c0", "c1", "c2", "c3"])
    assert list(counter(iter([no_rows, no_rows]))) == []
    with pytest.raises(ValueError, match="NULL code"):
        list(counter(iter(_arrow_batches(codes[:20], 8, null_at=13))))
    bad = codes[:20].copy()
    bad[5, 2] = 40
    with pytest.raises(ValueError, match=r"outside \[0, 40\)"):
        list(counter(iter(_arrow_batches(bad, 8))))


def test_counts_agree_across_jobs_sparse_marginals_and_empty_partitions(messy, spark, monkeypatch):
    # Tiny job and dense limits: the marginals spread over several Spark jobs and the larger
    # ones are counted sparsely; the rows spread over more partitions than some hold.
    frame, domain, _, _ = messy
    spk = sp.SparkTable.from_dataframe(spark.createDataFrame(frame.iloc[:40]).repartition(6))
    duck40 = Table.from_frame(frame.iloc[:40])
    monkeypatch.setattr(sp, "JOB_CELLS", 64)
    monkeypatch.setattr(sp, "DENSE_CELLS", 30)
    disc = Discretizer(domain)
    cliques = [("cat",), ("age", "x"), ("t", "cat", "ord"), ("wide", "e"), ()]
    sizes = disc.sizes
    assert len(sp._pack([math.prod(sizes[a] for a in c) for c in cliques])) >= 3
    want, got = marginal_counts_many(duck40, disc, cliques), marginal_counts_many(spk, disc, cliques)
    for c in cliques:
        np.testing.assert_array_equal(got[c], want[c], err_msg=str(c))
    assert got[()] == 40
    # Encoding turns whole-stage code generation off for its own query only.
    assert spark.conf.get("spark.sql.codegen.wholeStage") == "true"
    empty = sp.SparkTable.from_dataframe(spark.createDataFrame(frame.iloc[:0], schema=spk.frame.schema))
    zeros = marginal_counts_many(empty, disc, [("cat", "age")])[("cat", "age")]
    assert zeros.shape == (sizes["cat"], sizes["age"]) and not zeros.any()

import itertools

import numpy as np
import pandas as pd
import pytest

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Column, Domain
from dpsynth.data.io import Table, marginal_counts, marginal_counts_many
from dpsynth.errors import InvalidDataError, InvalidParameterError, MetadataError

DOMAIN = Domain([
    Column("u", kind="numeric", lower=-1.5, upper=2.5, bins=7, nullable=True),
    Column("ui", kind="numeric", lower=0, upper=99, integer=True, bins=10, nullable=True, missing_values=("?",)),
    Column("si", kind="numeric", lower=-3, upper=5, integer=True),
    Column("ef", kind="numeric", edges=(0.0, 0.1, 0.2, 0.7, 5.0), nullable=True),
    Column("ei", kind="numeric", edges=(0, 3, 10, 50), lower=0, upper=60, integer=True),
    Column("dt", kind="datetime", lower="2020-01-01", upper="2021-01-01", bins=12, nullable=True),
    Column("cat", categories=("a", "b", "c"), nullable=True, missing_values=("N",)),
    Column("ordn", kind="ordinal", categories=(1, 2, 3)),
    Column("one", kind="numeric", lower=3, upper=3),
])


def test_sizes_and_inference_required():
    disc = Discretizer(DOMAIN)
    assert disc.sizes == {"u": 8, "ui": 11, "si": 9, "ef": 5, "ei": 3, "dt": 13, "cat": 4, "ordn": 3, "one": 1}
    assert disc.shape == tuple(disc.sizes.values())
    assert disc.missing_code("u") == 7 and disc.missing_code("si") is None
    with pytest.raises(MetadataError, match="'x' has unknown bounds"):
        Discretizer(Domain([Column("x", kind="numeric", lower=0)]))
    with pytest.raises(MetadataError, match="'y' has unknown categories"):
        Discretizer(Domain([Column("y")]))
    # Default 32 bins; an integer column with few values gets one code per value.
    d2 = Discretizer(Domain([Column("a", kind="numeric", lower=0, upper=1),
                             Column("b", kind="numeric", lower=1, upper=16, integer=True),
                             Column("c", kind="numeric", lower=0, upper=1000, integer=True)]))
    assert d2.sizes == {"a": 32, "b": 16, "c": 32}


def _special(col: Column) -> list[float]:
    vals = [col.lower, col.upper, *(col.edges or ())]
    if col.kind == "numeric" and col.lower is not None and col.upper is not None and not col.edges:
        k = col.bins or 32
        w = (col.upper - col.lower) / k
        vals += [col.lower + i * w for i in range(k + 1)]
        if col.integer:
            w = (col.upper + 1 - col.lower) / k
            vals += [col.lower + i * w for i in range(k + 1)]
    vals = [v for v in vals if v is not None]
    return vals + [np.nextafter(v, np.inf) for v in vals] + [np.nextafter(v, -np.inf) for v in vals]


def random_raw(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Text as it would come from a CSV: valid, edge, missing and invalid values."""
    data = {}
    for col in DOMAIN:
        junk = [None, "", "  ", "nan", "inf", "abc", "1_000", "0x10", *col.missing_values]
        if col.kind in ("categorical", "ordinal"):
            pool = [str(c) for c in col.categories] + [f" {col.categories[0]} ", "2.0", "z"] + junk
            vals = [pool[i] for i in rng.integers(0, len(pool), n)]
        elif col.kind == "datetime":
            secs = rng.uniform(col.lower - 1e7, col.upper + 1e7, n)
            secs[: n // 4] = rng.choice(_special(col), n // 4)
            stamps = pd.to_datetime(np.round(secs * 1e6).astype(np.int64), unit="us")
            fmt = ["%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M", "%Y-%m-%d"]
            vals = [s.strftime(fmt[i % 3]) for i, s in enumerate(stamps)]
            for i in rng.integers(0, n, n // 5):
                vals[i] = junk[i % len(junk)] if i % 2 else "2020-02-30"
        else:
            lo = col.lower if col.lower is not None else col.edges[0]
            hi = col.upper if col.upper is not None else col.edges[-1]
            x = rng.uniform(lo - 2, hi + 2, n)
            x[: n // 4] = rng.choice(_special(col), n // 4)
            x[n // 4 : n // 2] = np.round(x[n // 4 : n // 2] * 2) / 2
            fmts = [repr, lambda v: f" {v:.3f} ", lambda v: f"{v:e}", lambda v: f"+{abs(v)}", lambda v: str(int(v)) + "."]
            vals = [fmts[i % len(fmts)](float(v)) for i, v in enumerate(x)]
            for i in rng.integers(0, n, n // 5):
                vals[i] = junk[i % len(junk)]
        data[col.name] = pd.Series(vals, dtype=object)
    return pd.DataFrame(data)


def sql_codes(disc: Discretizer, table: Table) -> np.ndarray:
    select = ", ".join(f"coalesce({disc.sql_expr(n)}, -1)" for n in disc.names)
    rows = table.connection.execute(f"SELECT {select} FROM {table.relation_name}").fetchall()
    return np.array(rows, dtype=np.int64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sql_and_numpy_agree_on_raw_text(seed):
    rng = np.random.default_rng(seed)
    df = random_raw(rng, 3000)
    disc = Discretizer(DOMAIN)
    got_np = disc.encode_frame(df, on_invalid="mark")
    got_sql = sql_codes(disc, Table.from_frame(df))
    for j, n in enumerate(disc.names):
        bad = np.flatnonzero(got_np[:, j] != got_sql[:, j])
        assert bad.size == 0, (n, df[n].iloc[bad[:5]].tolist(), got_np[bad[:5], j], got_sql[bad[:5], j])
    # The test data exercise every kind of value.
    assert (got_np == -1).any(axis=0).all()
    for j, n in enumerate(disc.names):
        assert set(np.unique(got_np[:, j])) >= set(range(disc.sizes[n])), n


def test_sql_and_numpy_agree_on_typed_values():
    rng = np.random.default_rng(7)
    n = 2000
    df = pd.DataFrame({
        "u": rng.uniform(-3, 4, n),
        "ui": rng.integers(-5, 110, n).astype(float),
        "si": rng.integers(-5, 8, n),
        "ef": rng.choice([0.0, 0.1, 0.2, 0.7, 5.0, 0.15, 7.0, -1.0], n),
        "ei": rng.integers(-2, 70, n),
        "dt": pd.to_datetime(rng.integers(1.5e9, 1.7e9, n), unit="s"),
        "cat": rng.choice(np.array(["a", "b", "c"], dtype=object), n),
        "ordn": rng.integers(1, 4, n).astype(float),
        "one": np.full(n, 3.0),
    })
    df.loc[::7, ["u", "ui", "ef"]] = np.nan
    df.loc[::11, "dt"] = pd.NaT
    df.loc[::13, "cat"] = None
    disc = Discretizer(DOMAIN)
    got_np = disc.encode_frame(df, on_invalid="mark")
    assert np.array_equal(got_np, sql_codes(disc, Table.from_frame(df)))
    assert np.array_equal(got_np, disc.codes(Table.from_frame(df)))


def valid_raw(seed: int, n: int = 2000) -> pd.DataFrame:
    df = random_raw(np.random.default_rng(seed), n)
    codes = Discretizer(DOMAIN).encode_frame(df, on_invalid="mark")
    return df[(codes >= 0).all(axis=1)].reset_index(drop=True)


def test_decode_lands_in_the_same_bin_within_bounds():
    disc = Discretizer(DOMAIN)
    df = valid_raw(3)
    codes = disc.encode_frame(df)
    out = disc.decode(codes, np.random.default_rng(0))
    assert list(out.columns) == list(DOMAIN.names)
    assert np.array_equal(disc.encode_frame(out), codes)
    assert out["u"].dtype == np.float64 and str(out["ui"].dtype) == "Int64"
    assert pd.api.types.is_datetime64_any_dtype(out["dt"]) and out["cat"].dtype == object
    for col in DOMAIN:
        if col.kind != "numeric":
            continue
        vals = out[col.name].dropna().astype(float)
        lo = col.lower if col.lower is not None else col.edges[0]
        hi = col.upper if col.upper is not None else col.edges[-1]
        assert vals.min() >= lo and vals.max() <= hi, col.name
        if col.integer:
            assert (vals == np.floor(vals)).all()
    miss = codes[:, DOMAIN.names.index("cat")] == disc.missing_code("cat")
    assert miss.any() and out["cat"][miss].isna().all() and out["cat"][~miss].isin(["a", "b", "c"]).all()
    assert out["ordn"].isin([1, 2, 3]).all()
    miss_u = codes[:, 0] == disc.missing_code("u")
    assert out["u"][miss_u].isna().all() and out["u"][~miss_u].notna().all()


def test_decode_is_uniform_within_a_bin():
    dom = Domain([Column("x", kind="numeric", lower=0.0, upper=10.0, bins=2)])
    out = Discretizer(dom).decode(np.zeros((20000, 1), dtype=np.int64), np.random.default_rng(1))["x"]
    assert out.min() >= 0 and out.max() < 5
    # Uniform on [0, 5): mean 2.5, sd 5/sqrt(12); 4 standard errors.
    assert abs(out.mean() - 2.5) < 4 * (5 / np.sqrt(12)) / np.sqrt(len(out))


def test_wide_integer_bins_hold_whole_numbers():
    col = Column("x", kind="numeric", lower=0, upper=99999, integer=True)
    disc = Discretizer(Domain([col]))
    edges = disc.bin_edges("x")
    assert len(edges) == 33 and edges[0] == -0.5 and edges[-1] == 99999.5
    ints = np.arange(0, 100000, dtype=float)
    codes = disc.encode_frame(pd.DataFrame({"x": ints}))[:, 0]
    assert np.all(np.diff(codes) >= 0) and codes[-1] == 31
    out = disc.decode(codes[:, None], np.random.default_rng(0))
    assert np.array_equal(disc.encode_frame(out)[:, 0], codes)


def test_decode_rejects_bad_codes():
    disc = Discretizer(DOMAIN)
    with pytest.raises(InvalidParameterError, match="codes of column 'u'"):
        disc.decode(np.full((2, len(DOMAIN)), 0) + np.eye(2, len(DOMAIN), dtype=int) * 99, np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="code matrix"):
        disc.decode(np.zeros((2, 3), dtype=int), np.random.default_rng(0))


def test_encode_is_cached_and_refuses_invalid_values():
    df = valid_raw(4, 500)
    t = Table.from_frame(df)
    disc = Discretizer(DOMAIN)
    name = disc.encode(t)
    assert Discretizer(DOMAIN).encode(t) == name
    assert np.array_equal(disc.codes(t), disc.encode_frame(df))
    bad = df.copy()
    bad.loc[0, "cat"] = "zzz"
    bad.loc[1, "si"] = ""  # missing, but si is not nullable
    with pytest.raises(InvalidDataError) as info:
        disc.encode(Table.from_frame(bad))
    assert any("'cat'" in p for p in info.value.problems) and any("'si'" in p for p in info.value.problems)
    with pytest.raises(InvalidDataError, match="'cat'"):
        disc.encode_frame(bad)
    with pytest.raises(InvalidDataError, match="'u' is in the metadata"):
        disc.encode(Table.from_frame(df.drop(columns="u")))


def test_marginal_counts_match_pandas_groupby():
    df = valid_raw(5, 3000)
    t = Table.from_frame(df)
    disc = Discretizer(DOMAIN)
    codes = pd.DataFrame(disc.encode_frame(df), columns=list(DOMAIN.names))
    cliques = [("u",), ("cat", "u"), ("u", "cat"), ("dt", "ei", "cat"), ("one", "si"), ()]
    many = marginal_counts_many(t, disc, cliques)
    assert list(many) == cliques
    for clique in cliques:
        got = marginal_counts(t, disc, clique)
        assert np.array_equal(got, many[clique])
        assert got.dtype == np.float64 and got.shape == tuple(disc.sizes[a] for a in clique)
        if not clique:
            assert got == len(df)
            continue
        expected = np.zeros(got.shape)
        for key, k in codes.groupby(list(clique)).size().items():
            expected[key if isinstance(key, tuple) else (key,)] = k
        assert np.array_equal(got, expected), clique
    assert np.array_equal(many[("cat", "u")], many[("u", "cat")].T)
    with pytest.raises(InvalidParameterError, match="Unknown column"):
        marginal_counts(t, disc, ("nope",))
    with pytest.raises(InvalidParameterError, match="twice"):
        marginal_counts(t, disc, ("u", "u"))


def test_marginal_counts_many_batches():
    df = valid_raw(6, 1000)
    t = Table.from_frame(df)
    disc = Discretizer(DOMAIN)
    cliques = list(itertools.combinations(DOMAIN.names, 3))  # 84 > one batch
    many = marginal_counts_many(t, disc, cliques)
    for c in cliques[::9]:
        assert np.array_equal(many[c], marginal_counts(t, disc, c))
        assert many[c].sum() == len(df)

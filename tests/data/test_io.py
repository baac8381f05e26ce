import duckdb
import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Column, Domain
from dpsynth.data.io import Table, validate, write_csv_atomic
from dpsynth.errors import InvalidDataError


def write(path, text, mode="w"):
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


DOMAIN = Domain(
    [
        Column("age", kind="numeric", lower=0, upper=120, integer=True),
        Column("city", kind="categorical", categories=("a", "b", "c"), nullable=True, missing_values=("?",)),
        Column("score", kind="numeric", lower=0.0, upper=1.0, nullable=True),
    ],
    ignore=("id",),
)
GOOD = "id,age,city,score\n1,30,a,0.5\n2,41,?,\n3,007,c,1\n"


# -- reading -------------------------------------------------------------------------------
def test_from_path_csv_reads_everything_as_text(tmp_path):
    t = Table.from_path(write(tmp_path / "t.csv", GOOD))
    assert t.columns == ("id", "age", "city", "score")
    rows = t.connection.execute(f"SELECT * FROM {t.relation_name}").fetchall()
    assert rows[2] == ("3", "007", "c", "1")  # no sniffing: '007' stays text
    assert t.connection.execute(f"SELECT typeof(age) FROM {t.relation_name} LIMIT 1").fetchone() == ("VARCHAR",)
    validate(t, DOMAIN)
    assert repr(t) == f"Table({str(tmp_path / 't.csv')!r}, 4 columns)"  # no row count


def test_from_path_parquet_and_tsv(tmp_path):
    df = pd.DataFrame({"id": [1, 2, 3], "age": [30, 41, 7], "city": ["a", None, "c"], "score": [0.5, np.nan, 1.0]})
    df.to_parquet(tmp_path / "t.parquet")
    t = Table.from_path(tmp_path / "t.parquet")
    assert t.columns == ("id", "age", "city", "score")
    validate(t, DOMAIN)
    frame = t.to_frame(DOMAIN)
    assert list(frame.columns) == ["age", "city", "score"]
    assert frame["age"].tolist() == [30, 41, 7] and str(frame["age"].dtype) == "Int64"
    assert frame["city"].tolist() == ["a", None, "c"]
    assert np.isnan(frame["score"].iloc[1]) and frame["score"].dtype == np.float64
    tsv = Table.from_path(write(tmp_path / "t.tsv", "age\tcity\n1\ta\n2\tb\n"))
    assert tsv.columns == ("age", "city")


def test_from_frame_and_from_duckdb(tmp_path):
    df = pd.DataFrame({"age": [30.0, 41.0], "city": ["a", "b"], "score": [0.25, None]})
    t = Table.from_frame(df)
    assert t.connection.execute(f"SELECT age FROM {t.relation_name}").fetchall() == [("30",), ("41",)]
    validate(t, DOMAIN)
    db = tmp_path / "x.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE people AS SELECT 30 AS age, 'a' AS city, 0.5::DOUBLE AS score UNION ALL "
                "SELECT 41, NULL, NULL")
    con.close()
    t2 = Table.from_duckdb(db, "people")
    assert t2.columns == ("age", "city", "score")
    validate(t2, DOMAIN)
    mem = duckdb.connect()
    mem.execute("CREATE TABLE p AS SELECT 30 AS age, 'a' AS city, 1.0::DOUBLE AS score UNION ALL SELECT 3, 'b', 0")
    t3 = Table.from_duckdb(mem, "p")
    assert t3.connection is mem
    assert t3.to_frame(DOMAIN)["score"].tolist() == [1.0, 0.0]
    with pytest.raises(InvalidDataError, match="'nope' not found"):
        Table.from_duckdb(mem, "nope")
    with pytest.raises(InvalidDataError, match="not found"):
        Table.from_duckdb(tmp_path / "absent.duckdb", "people")


def test_coerce_and_derive(tmp_path):
    t = Table.coerce(write(tmp_path / "t.csv", GOOD))
    assert Table.coerce(t) is t
    v = t.derive(f"SELECT age, city FROM {t.relation_name} WHERE city = 'a'")
    assert v.columns == ("age", "city") and v.count_rows() == 1
    assert Table.coerce(pd.DataFrame({"a": [1]})).columns == ("a",)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("a,b\n1,2\n3,4,5\n6,7\n", r"line 3: 3 fields, but the header has 2"),
        ("a,b\n1,2\n3\n6,7\n", r"line 3: 1 fields, but the header has 2"),
        (b"a,b\n1,2\n3,\xff\n", r"line 3: not UTF-8"),
        (b"a,\xff\n1,2\n", r"not UTF-8"),
        ("", r"is empty"),
        ("\n1,2\n", r"no header line"),
        ('a,b\n1,"open\n', r"unterminated quote"),
        ("a,a\n1,2\n", r"duplicate column name"),
    ],
)
def test_bad_csv_files(tmp_path, content, match):
    path = tmp_path / "bad.csv"
    write(path, content, "wb" if isinstance(content, bytes) else "w")
    with pytest.raises(InvalidDataError, match=match) as info:
        Table.from_path(path)
    assert "bad.csv" in str(info.value)
    assert not isinstance(info.value, duckdb.Error)


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(InvalidDataError, match="not found"):
        Table.from_path(tmp_path / "nope.csv")
    with pytest.raises(InvalidDataError, match="unsupported suffix"):
        Table.from_path(write(tmp_path / "x.xlsx", "a"))
    with pytest.raises(InvalidDataError, match="not a readable Parquet"):
        Table.from_path(write(tmp_path / "x.parquet", "not parquet"))


# -- validation ------------------------------------------------------------------------------
def problems_of(table, domain):
    with pytest.raises(InvalidDataError) as info:
        validate(table, domain)
    return info.value.problems


def test_validate_collects_every_problem(tmp_path):
    domain = Domain(
        [
            Column("age", kind="numeric", lower=0, upper=120, integer=True),
            Column("city", kind="categorical", categories=("a", "b")),
            Column("score", kind="numeric", lower=0.0, upper=1.0),
            Column("empty", kind="numeric", lower=0, upper=1, nullable=True),
            Column("when", kind="datetime", nullable=True),
            Column("absent", kind="categorical", categories=("x",)),
        ]
    )
    csv = (
        "age,city,score,empty,when,extra\n"
        "30,a,0.5,,2020-01-01,1\n"
        "-1,z,1.5,,2020-13-01,1\n"
        "150,y,abc,,2021-02-03 04:05,1\n"
        "2.5,,,,,1\n"
        "40,b,0.1,,nope,1\n"
    )
    t = Table.from_path(write(tmp_path / "t.csv", csv))
    probs = problems_of(t, domain)
    text = "\n".join(probs)
    assert "column 'extra' is in the data but not in the metadata" in text
    assert "column 'absent' is in the metadata but missing from the data" in text
    assert "column 'age' has 1 value(s) below the lower bound 0 (e.g. '-1')" in text
    assert "column 'age' has 1 value(s) above the upper bound 120 (e.g. '150')" in text
    assert "column 'age' is declared integer but has 1 non-whole value(s) (e.g. '2.5')" in text
    assert "column 'city' has 2 value(s) outside the declared categories (e.g. 'y', 'z')" in text
    assert "column 'city' has 1 missing value(s) but is not nullable" in text
    assert "column 'score' has 1 value(s) that are not a finite number (e.g. 'abc')" in text
    assert "column 'score' has 1 value(s) above the upper bound 1" in text
    assert "column 'empty' is entirely missing" in text
    assert "column 'when' has 2 value(s) that are not an ISO date-time" in text
    assert len(probs) == 12


def test_validate_shows_at_most_five_examples(tmp_path):
    rows = "\n".join(f"v{i}" for i in range(8))
    t = Table.from_path(write(tmp_path / "t.csv", "c\n" + rows + "\na\n"))
    (p,) = problems_of(t, Domain([Column("c", categories=("a",))]))
    assert "8 value(s)" in p and "'v4'" in p and "'v5'" not in p and "…" in p


def test_validate_empty_and_single_row(tmp_path):
    dom = Domain([Column("a", kind="numeric", lower=0, upper=1)])
    assert problems_of(Table.from_path(write(tmp_path / "e.csv", "a\n")), dom) == [
        f"the table ({tmp_path / 'e.csv'}) has no rows"
    ]
    (p,) = problems_of(Table.from_path(write(tmp_path / "one.csv", "a\n0.5\n")), dom)
    assert "single row" in p


def test_validate_skips_unknown_bounds_and_categories(tmp_path):
    dom = Domain([
        Column("a", kind="numeric", lower=0),  # upper left for DP inference
        Column("b", kind="categorical"),  # categories left for DP inference
    ])
    t = Table.from_path(write(tmp_path / "t.csv", "a,b\n1e9,anything\n5,else\n"))
    validate(t, dom)
    t2 = Table.from_path(write(tmp_path / "t2.csv", "a,b\n-1,x\nfoo,y\n"))
    text = "\n".join(problems_of(t2, dom))
    assert "below the lower bound" in text and "not a finite number" in text


def test_validate_honours_ignore_and_suggests_names(tmp_path):
    t = Table.from_path(write(tmp_path / "t.csv", "ID,Age\n1,2\n3,4\n"))
    dom = Domain([Column("age", kind="numeric", lower=0, upper=9)], ignore=["ID"])
    text = "\n".join(problems_of(t, dom))
    assert "'ID'" not in text
    assert "did you mean 'Age'" in text


def test_missing_tokens_and_whitespace(tmp_path):
    dom = Domain([Column("c", categories=("a", "b"), nullable=True, missing_values=("N",)),
                  Column("x", kind="numeric", lower=0, upper=10, nullable=True, missing_values=("N",))])
    t = Table.from_path(write(tmp_path / "t.csv", "c,x\n a ,N\nN, 3 \n,\nb,1e1\n"))
    validate(t, dom)
    frame = t.to_frame(dom)
    assert frame["c"].tolist() == ["a", None, None, "b"]
    assert frame["x"].tolist()[1:] == [3.0, pytest.approx(float("nan"), nan_ok=True), 10.0]


def test_to_frame_without_domain_and_datetime(tmp_path):
    t = Table.from_path(write(tmp_path / "t.csv", "d,x\n2020-01-02 03:04:05,1\n,2\n"))
    raw = t.to_frame()
    assert raw["d"].tolist() == ["2020-01-02 03:04:05", None]
    typed = t.to_frame(Domain([Column("d", kind="datetime", nullable=True), Column("x", kind="numeric")]))
    assert typed["d"].iloc[0] == pd.Timestamp("2020-01-02 03:04:05") and pd.isna(typed["d"].iloc[1])
    with pytest.raises(InvalidDataError, match="'y'"):
        t.to_frame(Domain([Column("y", kind="numeric")]))


def test_write_csv_atomic(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    out = write_csv_atomic(df, tmp_path / "o" / "s.csv")
    assert out.read_text() == "a,b\n1,x\n2,\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["s.csv"]
    write_csv_atomic(df.head(1), out)
    assert out.read_text() == "a,b\n1,x\n"


def test_large_csv_is_streamed_to_a_temporary_parquet_copy(tmp_path, monkeypatch):
    import os

    import dpsynth.data.io as io

    path = tmp_path / "t.csv"
    write(path, "x,y\n1,a\n,b\n3,\"c,d\"\n" * 20)
    in_memory = Table.from_path(path).to_frame()
    monkeypatch.setattr(io, "CSV_IN_MEMORY_BYTES", 0)
    table = Table.from_path(path)
    folder = table._spill.peek()[2][0]
    assert os.path.exists(os.path.join(folder, "data.parquet"))
    pd.testing.assert_frame_equal(table.to_frame(), in_memory)
    table.close()
    assert not os.path.exists(folder)
    # The same one-line error as the in-memory path, and no temporary copy left behind.
    write(tmp_path / "bad.csv", "x,y\n1,2\n3,4,5\n")
    with pytest.raises(InvalidDataError, match="line 3: 3 fields"):
        Table.from_path(tmp_path / "bad.csv")

"""The ``dpsynth`` command line: fit, sample, run, info, evaluate, report, audit, generators.

Errors a user can cause print one line and exit with code 2; nothing half-written is left
on disk (every output is written to a temporary file and renamed). Every output path,
the metadata and the parameters are checked before any budget is spent or long work
starts. Ctrl-C prints one line saying what was written and whether budget was spent, and
exits with code 130. Python warnings print as one ``warning:`` line.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Table as RichTable

from dpsynth.errors import DpsynthError
from dpsynth.privacy import PrivacyReport

app = typer.Typer(
    name="dpsynth",
    help="Differentially private synthetic data, audited.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

GeneratorOpt = Annotated[str, typer.Option("--generator", "-g", help="Generator name (see `dpsynth generators`).")]
EpsilonOpt = Annotated[float, typer.Option("--epsilon", "-e", help="Privacy budget ε (> 0).")]
DeltaOpt = Annotated[float, typer.Option("--delta", "-d", help="Privacy budget δ (0 < δ ≪ 1/n).")]
MetadataOpt = Annotated[
    Path | None,
    typer.Option("--metadata", "-m", help="Public metadata JSON. Without it, categories and bounds are inferred with DP."),
]
SeedOpt = Annotated[
    int | None, typer.Option("--random-state", help="Seed for reproducible research only: output NOT FOR RELEASE.")
]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="Generator hyper-parameter KEY=VALUE (JSON value), repeatable.")
]

EngineOpt = Annotated[
    str,
    typer.Option("--engine", help="Where the private counting queries run: duckdb (one machine, out of core) "
                 "or spark (a Spark session from the environment: spark-submit, PYSPARK_SUBMIT_ARGS, "
                 "spark-defaults.conf)."),
]

AuditOpt = Annotated[
    Path | None,
    typer.Option("--audit", help="Audit JSON from `dpsynth audit --out`, drawn in the report's audit section."),
]


def _load_audit(path: Path | None) -> Any:
    """Read an audit JSON (raises InvalidDataError); None stays None."""
    if path is None:
        return None
    from dpsynth.audit import AuditReport

    return AuditReport.load(path)


class _Progress:
    """What the running command has done so far, for the line printed on Ctrl-C."""

    def __init__(self) -> None:
        self.fitting = False  # a fit with a budget has started
        self.fitted = False  # ... and finished: its budget is spent on the model
        self.written: list[Path] = []

    def wrote(self, path: Path) -> None:
        self.written.append(path)

    def interrupted_line(self) -> str:
        wrote = (
            "nothing was written"
            if not self.written
            else "only these were written: " + ", ".join(str(p) for p in self.written)
        )
        if self.fitted:
            saved = any(p.name.endswith(".dps") for p in self.written)
            budget = (
                "the budget was spent on the fitted model"
                + ("" if saved else ", which was not saved: count this budget as spent")
            )
        elif self.fitting:
            budget = (
                "the fit was stopped before it released anything: no privacy budget was spent on an output "
                "(the noisy measurements taken so far were discarded)"
            )
        else:
            budget = "no privacy budget was spent"
        return f"interrupted: {wrote}; {budget}."


_state = _Progress()


def _is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C, also when DuckDB turned it into its own exception while a query ran."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    if type(exc).__name__ == "InterruptException":
        return True
    return isinstance(exc, RuntimeError) and "query interrupted" in str(exc).lower()


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    err.print(f"[bold yellow]warning:[/] {message}", highlight=False)


def _full_width() -> None:
    # Off a terminal (a pipe, a log file) rich would cut tables and wrap messages at 80
    # columns: give it room instead, so that nothing is cut.
    for console in (out, err):
        if not console.is_terminal:
            console.width = 1000


def _friendly(fn: F) -> F:
    """Turn user errors into one line on stderr and exit code 2; Ctrl-C into one line and 130."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        global _state
        _state = _Progress()
        _full_width()
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                return fn(*args, **kwargs)
        except DpsynthError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
            err.print(f"[bold red]error:[/] {exc.strerror}: {exc.filename}", highlight=False)
            raise typer.Exit(2) from None
        except (KeyboardInterrupt, Exception) as exc:
            if not _is_interrupt(exc):
                raise
            err.print(_state.interrupted_line(), highlight=False)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return probe


def _check_folder(folder: Path, option: str) -> None:
    """Refuse a folder that cannot be created or written, before any work (it is not created)."""
    if folder.exists() and not folder.is_dir():
        from dpsynth.errors import InvalidParameterError

        raise InvalidParameterError(f"{option} {folder} is an existing file, not a folder: give a folder.")
    _check_can_create(folder, option, folder)


def _check_can_create(target: Path, option: str, shown: Path) -> None:
    from dpsynth.errors import InvalidParameterError

    base = _nearest_existing(target)
    if not base.is_dir():
        raise InvalidParameterError(f"Cannot write {shown} ({option}): {base} is a file, not a folder.")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".dpsynth-check.", dir=base)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise InvalidParameterError(
            f"Cannot write {shown} ({option}): {base} does not take new files ({exc.strerror or exc})."
        ) from None


def _check_output_file(path: Path, option: str) -> None:
    """Refuse an output file that cannot be written (a folder, a read-only place), before any work."""
    from dpsynth.errors import InvalidParameterError

    if path.is_dir():
        raise InvalidParameterError(f"{option} {path} is an existing folder: give a file name.")
    _check_can_create(path.parent, option, path)


def _check_fit_inputs(generator: str, epsilon: float, delta: float, metadata: Path | None,
                      random_state: int | None, params: list[str] | None) -> None:
    """Check the budget, the generator and its parameters and the metadata before reading any row."""
    from dpsynth.data.infer import load_metadata
    from dpsynth.privacy import PrivacyBudget
    from dpsynth.synth.registry import create

    PrivacyBudget(epsilon, delta)
    create(generator, random_state=random_state, **_parse_params(params))._validate_params()
    if metadata is not None:
        load_metadata(metadata)  # as the fit reads it: a skeleton's null types are allowed


def _parse_params(items: list[str] | None) -> dict[str, Any]:
    from dpsynth.errors import InvalidParameterError

    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidParameterError(f"--param takes KEY=VALUE. Got {item!r}.")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _print_report(report: PrivacyReport, *, ledger: bool = True) -> None:
    out.print(f"[bold]Privacy:[/] {report.summary()}", highlight=False)
    if report.notes:
        for note in report.notes:
            out.print(f"  note: {note}", highlight=False)
    if ledger and report.ledger:
        # One row per step (the JSON report keeps every charge).
        steps: dict[str, list[Any]] = {}
        for e in report.ledger:
            row = steps.setdefault(e.step, [e.mechanism.split(",")[0], 0, 0, 0.0, 0.0])
            row[1] += 1
            row[2] += e.count
            # DP-SGD charges compose through the PLD and have no zCDP bound (ρ None).
            row[3] = None if row[3] is None or e.rho is None else row[3] + e.rho
            row[4] += e.delta
        t = RichTable(title="Ledger (by step)")
        for col in ("step", "mechanism", "charges", "releases", "ρ", "share"):
            t.add_column(col)
        for step, (mech, charges, releases, rho, _) in steps.items():
            if rho is None:  # PLD-composed (e.g. DP-SGD): ε at δ is in the summary above
                t.add_row(step, mech, str(charges), str(releases), "PLD", "–")
                continue
            share = rho / report.rho if report.rho else 0.0
            t.add_row(step, mech, str(charges), str(releases), f"{rho:.3g}", f"{share:.0%}")
        out.print(t)


def _audit_mismatches(audit_doc: Any, generator: str, params: dict[str, Any], epsilon: float,
                      delta: float) -> list[str]:
    """Refuse an audit of another generator; warn (one line each) where its settings differ."""
    if audit_doc is None:
        return []
    from dpsynth.errors import InvalidParameterError
    from dpsynth.report import audit_mismatches

    found = audit_mismatches(audit_doc, generator=generator, params=params, epsilon=epsilon, delta=delta)
    if found and "audit audited generator" in found[0]:
        raise InvalidParameterError(f"--audit does not describe this release: {found[0]}. Audit this generator, "
                                    "or leave --audit out.")
    for problem in found:
        warnings.warn(f"--audit: {problem}; the report shows it beside the audit.", UserWarning, stacklevel=2)
    return found


def _audit_data_mismatches(audit_doc: Any, real: Any, domain: Any) -> list[str]:
    """Warn (one line) when the audit was played on other rows than the report's real data."""
    if audit_doc is None:
        return []
    from dpsynth.report import audit_data_mismatch

    found = audit_data_mismatch(audit_doc, real, domain)
    for problem in found:
        warnings.warn(f"--audit: {problem}; the report shows it beside the audit.", UserWarning, stacklevel=2)
    return found


def _fit(data: Path, generator: str, epsilon: float, delta: float, metadata: Path | None,
         random_state: int | None, params: list[str] | None, engine: str = "duckdb") -> Any:
    from dpsynth import api
    from dpsynth._cli_metadata import plan_printer
    from dpsynth.progress import enable_progress, track

    with enable_progress(err), track(f"fitting {generator} (ε = {epsilon:g})", None):
        _state.fitting = True
        model = api.fit(str(data) if engine == "spark" else data, generator=generator, epsilon=epsilon,
                        delta=delta, metadata=metadata, random_state=random_state, engine=engine,
                        on_plan=plan_printer(err), **_parse_params(params))
        _state.fitted = True
        return model


@app.command()
@_friendly
def fit(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file with the sensitive table.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the fitted model (.dps).")],
    generator: GeneratorOpt = "aim",
    epsilon: EpsilonOpt = 1.0,
    delta: DeltaOpt = 1e-9,
    metadata: MetadataOpt = None,
    random_state: SeedOpt = None,
    param: ParamOpt = None,
    engine: EngineOpt = "duckdb",
) -> None:
    """Fit a generator on DATA within (ε, δ) and save the model (safe to release)."""
    _check_fit_inputs(generator, epsilon, delta, metadata, random_state, param)
    _check_output_file(output, "--output")
    model = _fit(data, generator, epsilon, delta, metadata, random_state, param, engine)
    model.save(output)
    _state.wrote(output)
    _print_report(model.privacy_report, ledger=False)
    out.print(f"Model written to {output}")


@app.command()
@_friendly
def sample(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A fitted model (.dps).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the synthetic rows (.csv or .parquet).")],
    n: Annotated[int | None, typer.Option("--rows", "-n", help="Rows to sample (default: the model's DP estimate).")] = None,
    random_state: Annotated[int | None, typer.Option("--random-state", help="Seed for sampling.")] = None,
    condition: Annotated[list[str] | None, typer.Option(
        "--condition", "-c",
        help="Only rows with COLUMN=VALUE, COLUMN=LOW..HIGH (either end may be empty) or COLUMN=A|B; repeatable.",
    )] = None,
    delimiter: Annotated[str | None, typer.Option(
        "--delimiter", help="CSV delimiter, e.g. ';' for decimal commas (default: ',' or a tab for .tsv).",
    )] = None,
) -> None:
    """Sample synthetic rows from a fitted model (no budget spent), written in chunks (bounded memory)."""
    from dpsynth.data.output import check_delimiter, output_format, sample_chunks, write_chunks
    from dpsynth.synth._conditions import conditions_from_strings
    from dpsynth.synth.base import Synthesizer

    _check_rows(n)
    _check_output_file(output, "--output")
    output_format(output)  # a bad suffix fails before anything is sampled
    if delimiter is not None:
        check_delimiter(delimiter, "--delimiter")
        if output_format(output) != "csv":
            from dpsynth.errors import InvalidParameterError

            raise InvalidParameterError(f"--delimiter is for a CSV output; {output} is not one.")
    conditions = conditions_from_strings(condition or [])
    model = Synthesizer.load(model_path)
    rows = n if n is not None else model.estimated_rows
    write_chunks(sample_chunks(model, rows, random_state=random_state, conditions=conditions or None), output,
                 domain=model.domain_, sep=delimiter)
    _state.wrote(output)
    out.print(f"{rows} synthetic rows written to {output}")


def _input_delimiter(data: Path) -> str:
    """The delimiter synthetic.csv is written with: the input CSV's own (``,``, ``;`` or ``|``).

    Sniffed from the header line only (public). A semicolon file (decimal commas) comes
    back with semicolons, so its numbers need no quoting; a tab-delimited or Parquet input,
    or a header that cannot be read, gives a plain comma-separated file.
    """
    from dpsynth.data.io import sniff_header
    from dpsynth.errors import DpsynthError

    if data.suffix.lower() not in (".csv", ".txt") or not data.is_file():
        return ","
    try:
        delim = sniff_header(data)[1]
    except (DpsynthError, OSError, UnicodeDecodeError):  # the fit read it; any doubt gives the default
        return ","
    return delim if delim in (",", ";", "|") else ","


@app.command()
@_friendly
def run(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file with the sensitive table.")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for model, synthetic CSV and privacy report.")] = Path(
        "dpsynth-output"
    ),
    generator: GeneratorOpt = "aim",
    epsilon: EpsilonOpt = 1.0,
    delta: DeltaOpt = 1e-9,
    metadata: MetadataOpt = None,
    rows: Annotated[int | None, typer.Option("--rows", "-n", help="Rows to sample (default: DP estimate).")] = None,
    random_state: SeedOpt = None,
    param: ParamOpt = None,
    report: Annotated[
        bool,
        typer.Option("--report", help="Also write report.html, evaluated against the input data (not part of the DP release)."),
    ] = False,
    audit: AuditOpt = None,
    engine: EngineOpt = "duckdb",
    parquet: Annotated[bool, typer.Option("--parquet", help="Write synthetic.parquet instead of synthetic.csv.")] = False,
) -> None:
    """Fit, sample and write the privacy report in one go."""
    from dpsynth.data.output import sample_chunks, write_chunks

    # Everything that can be checked is checked before the fit spends the budget.
    _check_rows(rows)
    _check_fit_inputs(generator, epsilon, delta, metadata, random_state, param)
    audit_doc = _load_audit(audit)
    if audit_doc is not None:
        from dpsynth.synth.registry import create

        full = create(generator, random_state=random_state, **_parse_params(param)).get_params()
        mismatches = _audit_mismatches(audit_doc, generator, full, epsilon, delta)
    _check_folder(out_dir, "--out-dir")
    for name in ("model.dps", "synthetic.parquet" if parquet else "synthetic.csv", "privacy_report.json", *(("report.html",) if report else ())):
        if (out_dir / name).is_dir():
            from dpsynth.errors import InvalidParameterError

            raise InvalidParameterError(f"--out-dir {out_dir} holds a folder named {name}: move it or pick another folder.")

    model = _fit(data, generator, epsilon, delta, metadata, random_state, param, engine)
    n = rows if rows is not None else model.estimated_rows
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "model.dps")
    _state.wrote(out_dir / "model.dps")
    synth_path = out_dir / ("synthetic.parquet" if parquet else "synthetic.csv")
    # Streamed in chunks (memory bounded by one chunk whatever --rows is); the report
    # evaluates the first REPORT_ROWS rows, a random sample of the synthetic table.
    kept: list[Any] = []

    def chunks() -> Any:
        have = 0
        for chunk in sample_chunks(model, n, random_state=random_state):
            if report and have < REPORT_ROWS:
                kept.append(chunk.iloc[: REPORT_ROWS - have])
                have += len(kept[-1])
            yield chunk

    write_chunks(chunks(), synth_path, domain=model.domain_, sep=None if parquet else _input_delimiter(data))
    _state.wrote(synth_path)
    _atomic_write_text(out_dir / "privacy_report.json", json.dumps(model.privacy_report.to_dict(), indent=2))
    _state.wrote(out_dir / "privacy_report.json")
    _print_report(model.privacy_report)
    out.print(f"Synthetic data ({n} rows): {synth_path}")
    out.print(f"Privacy report: {out_dir / 'privacy_report.json'}")
    out.print(f"Model: {out_dir / 'model.dps'}")
    if report:
        import pandas as pd

        domain = model.domain_
        synth = pd.concat(kept, ignore_index=True)
        # The input rows, read on this machine through DuckDB (also after a Spark fit: the
        # Spark engine never collects private rows), at most REPORT_ROWS of them.
        real = _load_frame(data, domain, max_rows=REPORT_ROWS)
        if audit_doc is not None:
            mismatches = [*mismatches, *_audit_data_mismatches(audit_doc, real, domain)]
        _write_html_report(
            out_dir / "report.html", model, real=real, synthetic=synth, domain=domain, real_split="train",
            real_label=f"the input data of this run ({data.name}): the rows the generator was fitted on"
            + (f" (a fixed-seed sample of {REPORT_ROWS:,} of them)" if real.attrs.get("sampled") else "")
            + (f"; synthetic: the first {len(synth):,} of {n:,} rows" if len(synth) < n else ""),
            subtitle=f"{model.name} fitted on {data.name}; evaluated against the same input data",
            audit=audit_doc, audit_mismatches=mismatches if audit_doc is not None else (),
        )
        _state.wrote(out_dir / "report.html")
        out.print(f"Report: {out_dir / 'report.html'} (its evaluation reads the input data: not for release)")


def _check_rows(rows: int | None) -> None:
    if rows is not None and rows <= 0:
        from dpsynth.errors import InvalidParameterError

        raise InvalidParameterError(f"--rows must be an integer > 0. Got {rows}.")


@app.command()
@_friendly
def info(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A fitted model (.dps).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Show a model's privacy report: ε at δ, ρ, μ and κ where defined, and the ledger."""
    from dpsynth.synth.base import Synthesizer

    model = Synthesizer.load(model_path)
    if as_json:
        out.print_json(json.dumps(model.privacy_report.to_dict()))
        return
    out.print(f"[bold]{model!r}[/]", highlight=False)
    _print_report(model.privacy_report)


#: Rows of each side the report of ``run --report`` evaluates (a fixed-seed sample of larger tables).
REPORT_ROWS = 200_000


def _load_frame(path: Path, domain: Any, *, max_rows: int | None = None) -> Any:
    """Read a CSV/Parquet file as a DataFrame cast by the domain (raises InvalidDataError).

    With ``max_rows``, a table with more rows is read as a fixed-seed uniform sample of that many.
    """
    from dpsynth.data.io import Table

    with Table.from_path(path) as table:
        if max_rows is not None and table.count_rows() > max_rows:
            sample = table.derive(
                f"SELECT * FROM {table.relation_name} USING SAMPLE reservoir({int(max_rows)} ROWS) REPEATABLE (0)")
            frame = sample.to_frame(domain)
            frame.attrs["sampled"] = True
            return frame
        return table.to_frame(domain)


def _evaluate(real: Any, synthetic: Any, domain: Any, *, target: str | None, holdout: Any,
              real_split: str | None, random_state: int) -> dict[str, Any]:
    from dpsynth.progress import enable_progress
    from dpsynth.report import evaluate_with_progress

    with enable_progress(err):
        return evaluate_with_progress(real, synthetic, domain, target=target, holdout=holdout,
                                      real_split=real_split, random_state=random_state)


def _write_html_report(path: Path, model: Any, *, real: Any, synthetic: Any, domain: Any,
                       results: dict[str, Any] | None = None, target: str | None = None,
                       holdout: Any = None, real_split: str | None = None, real_label: str | None = None,
                       subtitle: str | None = None, title: str | None = None, random_state: int = 0,
                       audit: Any = None, audit_mismatches: Any = ()) -> None:
    from dpsynth.progress import enable_progress
    from dpsynth.report import write_report

    if results is None:
        results = _evaluate(real, synthetic, domain, target=target, holdout=holdout,
                            real_split=real_split, random_state=random_state)
    with enable_progress(err):
        write_report(path, privacy=model.privacy_report, results=results, real=real, synthetic=synthetic,
                     domain=domain, title=title or f"{model.name.upper()} synthetic data: release report",
                     subtitle=subtitle, real_label=real_label, audit=audit, audit_mismatches=audit_mismatches)


def _print_results(results: dict[str, Any]) -> None:
    from dpsynth.evaluate import RAW_ROWS_NOTE, summary_table

    def num(x: Any) -> str:
        try:
            v = float(x)
        except (TypeError, ValueError):
            return "—"
        return "—" if v != v or v in (float("inf"), float("-inf")) else f"{v:.4g}"

    df = summary_table(results)
    t = RichTable(title="Evaluation (reads real rows; not part of the DP release)")
    t.add_column("metric", no_wrap=True)
    for col in ("value", "95% CI", "ref.", "best"):
        t.add_column(col, justify="right", no_wrap=True)
    t.add_column("goal", no_wrap=True)
    notes = []
    for name, row in df.iterrows():
        ci = "" if row["ci_low"] != row["ci_low"] else f"{num(row['ci_low'])}–{num(row['ci_high'])}"
        ref = "" if row["reference"] != row["reference"] else num(row["reference"])
        if row["best"] not in (row["min_value"], row["max_value"]):
            goal = "near best"  # e.g. detection AUC and DCR share: 0.5 is ideal
        else:
            goal = "lower" if row["goal"] == "minimize" else "higher"
        t.add_row(str(name), num(row["value"]), ci, ref, num(row["best"]), goal)
        if row["note"]:
            notes.append(f"{name}: {row['note']}")
    out.print(t)
    for note in notes:
        out.print(f"  [dim]{note}[/]", highlight=False)
    out.print(f"[dim]{RAW_ROWS_NOTE}[/]", highlight=False)


RealSplitOpt = Annotated[
    str | None,
    typer.Option("--real-split", help="What REAL is: train, holdout or unspecified (default: train with --holdout, else unspecified)."),
]
TargetOpt = Annotated[str | None, typer.Option("--target", "-t", help="Target column for utility (default: the metadata's).")]
HoldoutOpt = Annotated[Path | None, typer.Option("--holdout", help="Real rows the generator never saw (utility test set, DCR).")]
EvalSeedOpt = Annotated[int, typer.Option("--random-state", help="Seed for the evaluation's own sampling.")]


@app.command()
@_friendly
def evaluate(
    real: Annotated[Path, typer.Argument(help="Real table (CSV/Parquet): the training split or a hold-out.")],
    synthetic: Annotated[Path, typer.Argument(metavar="SYNTH", help="Synthetic table (CSV/Parquet).")],
    metadata: Annotated[Path, typer.Option("--metadata", "-m", help="Public metadata JSON (complete: categories and bounds).")],
    target: TargetOpt = None,
    holdout: HoldoutOpt = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write every result (with plot data) as JSON.")] = None,
    real_split: RealSplitOpt = None,
    random_state: EvalSeedOpt = 0,
) -> None:
    """Compare SYNTH with REAL: fidelity, utility, detection AUC and (with --holdout) DCR.

    Reads raw real rows: the figures are for the data steward, not part of the DP release.
    """
    from dpsynth.data.domain import Domain
    from dpsynth.evaluate import RAW_ROWS_NOTE

    if json_out is not None:
        _check_output_file(json_out, "--json")
    domain = Domain.from_json(metadata)
    real_df = _load_frame(real, domain)
    synth_df = _load_frame(synthetic, domain)
    hold_df = _load_frame(holdout, domain) if holdout is not None else None
    results = _evaluate(real_df, synth_df, domain, target=target, holdout=hold_df, real_split=real_split,
                        random_state=random_state)
    _print_results(results)
    if json_out is not None:
        doc = {
            "reads_raw_rows": True,
            "note": RAW_ROWS_NOTE,
            "inputs": {"real": str(real), "synthetic": str(synthetic),
                       "holdout": None if holdout is None else str(holdout), "target": target},
            "results": {name: r.to_dict() for name, r in results.items()},
        }
        _atomic_write_text(json_out, json.dumps(doc, indent=2, allow_nan=False))
        _state.wrote(json_out)
        out.print(f"Results written to {json_out}")


@app.command()
@_friendly
def report(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A fitted model (.dps).")],
    real: Annotated[Path, typer.Option("--real", help="Real table (CSV/Parquet) to evaluate against.")],
    synthetic: Annotated[Path, typer.Option("--synthetic", help="Synthetic table sampled from MODEL.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the HTML report.")],
    metadata: Annotated[Path | None, typer.Option("--metadata", "-m", help="Public metadata JSON (default: the model's domain).")] = None,
    target: TargetOpt = None,
    holdout: HoldoutOpt = None,
    real_split: RealSplitOpt = None,
    results_json: Annotated[
        Path | None, typer.Option("--results", help="Reuse the JSON of `dpsynth evaluate --json` instead of evaluating again.")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Page title.")] = None,
    random_state: EvalSeedOpt = 0,
    audit: AuditOpt = None,
) -> None:
    """Write one self-contained HTML page: the privacy guarantee, fidelity, utility, detection, DCR."""
    from dpsynth.data.domain import Domain
    from dpsynth.evaluate import Result
    from dpsynth.synth.base import Synthesizer

    _check_output_file(output, "--output")
    model = Synthesizer.load(model_path)
    audit_doc = _load_audit(audit)
    mismatches = _audit_mismatches(audit_doc, model.name, model.get_params(), model.privacy_report.budget_epsilon,
                                   model.privacy_report.delta)
    domain = Domain.from_json(metadata) if metadata is not None else model.domain_
    results = None
    if results_json is not None:
        results = {k: Result.from_dict(v) for k, v in _read_results_json(results_json).items()}
    real_df = _load_frame(real, domain)
    mismatches = [*mismatches, *_audit_data_mismatches(audit_doc, real_df, domain)]
    synth_df = _load_frame(synthetic, domain)
    hold_df = _load_frame(holdout, domain) if holdout is not None else None
    _write_html_report(output, model, real=real_df, synthetic=synth_df, domain=domain, results=results,
                       target=target, holdout=hold_df, real_split=real_split, title=title,
                       subtitle=f"{model.name} · real: {real.name} · synthetic: {synthetic.name}",
                       random_state=random_state, audit=audit_doc, audit_mismatches=mismatches)
    _state.wrote(output)
    out.print(f"Report written to {output}")


def _read_results_json(path: Path) -> dict[str, Any]:
    from dpsynth.errors import InvalidDataError

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        results = doc["results"]
        if not isinstance(results, dict) or not all(isinstance(v, dict) and "metric" in v for v in results.values()):
            raise TypeError
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise InvalidDataError(f"{path} is not the JSON written by `dpsynth evaluate --json`") from None
    return results


@app.command("audit")
@_friendly
def audit_cmd(
    data: Annotated[Path | None, typer.Argument(help="CSV or Parquet file: the population the audit's games draw from (not with --worst-case).")] = None,
    generator: GeneratorOpt = "mst",
    epsilon: EpsilonOpt = 1.0,
    delta: DeltaOpt = 1e-6,
    metadata: MetadataOpt = None,
    attacks: Annotated[
        str,
        typer.Option("--attacks", help="Comma-separated: mia (all membership attacks) or attack names (closest_distance, "
                     "query, domias, groundhog_naive, groundhog_histogram, groundhog_correlation), and recon (reconstruction)."),
    ] = "mia,recon",
    shadows: Annotated[int, typer.Option("--shadows", help="Shadow fits per target for the groundhog attacks.")] = 20,
    games: Annotated[int, typer.Option("--games", help="Membership games per target (one generator fit each).")] = 200,
    targets: Annotated[str, typer.Option("--targets", help="Which records to audit: outliers (most at risk) or random.")] = "outliers",
    n_targets: Annotated[int, typer.Option("--n-targets", help="How many target records.")] = 1,
    rows: Annotated[int | None, typer.Option("--rows", help="Training rows per game (default min(1000, rows/2)).")] = None,
    recon_games: Annotated[int, typer.Option("--recon-games", help="Reconstruction games (one fit each).")] = 10,
    secret: Annotated[str | None, typer.Option("--secret", help="Binary column the reconstruction attack infers (default: the target).")] = None,
    output: Annotated[Path, typer.Option("--out", "-o", help="Where to write the audit JSON (games are kept in OUT.games/).")] = Path("audit.json"),
    resume: Annotated[bool, typer.Option("--resume", help="Continue the games of an interrupted audit with the same --out (without it, OUT.games/ is cleared).")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel workers over games (-1: all cores).")] = 1,
    random_state: Annotated[int | None, typer.Option("--random-state", help="Seed of the games (default: fresh, or the stored one with --resume).")] = None,
    param: ParamOpt = None,
    worst_case: Annotated[bool, typer.Option("--worst-case", help="Audit on the worst-case neighbouring pair instead of DATA: "
                                             "white- and black-box μ-GDP lower bounds and tightness (--runs fits per side).")] = False,
    runs: Annotated[int, typer.Option("--runs", help="With --worst-case: fits per side of the pair.")] = 2000,
    pair: Annotated[str, typer.Option("--pair", help="With --worst-case: zeros (the measurements' worst case: ten "
                                      "all-zero rows, plus an all-ones row) or selection (a pair whose added row "
                                      "moves the selection scores of MST and AIM in opposite directions).")] = "zeros",
) -> None:
    """Audit a generator's claimed ε with attacks: membership inference and reconstruction.

    Refits the generator on many training sets drawn from DATA, with and without a target
    record, attacks each synthetic output and turns the attacks' success into an empirical
    lower bound on ε. A bound above the claimed ε is a violation (a bug). Reads raw rows:
    the audit is for the data steward, not part of a release.
    """
    from dpsynth.audit import run_audit
    from dpsynth.audit.attacks import ATTACKS
    from dpsynth.errors import InvalidParameterError
    from dpsynth.progress import enable_progress

    if worst_case:
        from dpsynth.audit.worst_case import audit_worst_case

        work = output.with_name(output.name + ".runs")
        wc = audit_worst_case(generator, epsilon=epsilon, delta=delta, params=_parse_params(param), runs=runs,
                              n_jobs=jobs, random_state=random_state, work_dir=work, resume=resume, pair=pair)
        wc.save(output)
        out.print(wc.summary(), highlight=False)
        out.print(f"Worst-case audit written to {output} (runs in {work}).")
        if wc.verdict == "violation":
            raise typer.Exit(1)
        return
    if data is None:
        raise InvalidParameterError("Give DATA (the population the games draw from), or --worst-case.")
    if pair != "zeros":
        raise InvalidParameterError("--pair applies to --worst-case audits only.")
    if targets not in ("outliers", "random"):
        raise InvalidParameterError(f"--targets takes outliers or random. Got {targets!r}.")
    names = [a.strip() for a in attacks.split(",") if a.strip()]
    unknown = [a for a in names if a not in ("mia", "recon") and a not in ATTACKS]
    if unknown or not names:
        raise InvalidParameterError(
            f"Unknown attack(s) {unknown or names}. --attacks takes mia, recon and {', '.join(sorted(ATTACKS))}."
        )
    chosen = [a for a in names if a in ATTACKS]
    kinds = (["mia"] if "mia" in names or chosen else []) + (["recon"] if "recon" in names else [])
    work = output.with_name(output.name + ".games")
    _check_output_file(output, "--out")
    if work.exists() and not work.is_dir():
        raise InvalidParameterError(f"{work} (where the audit keeps its games) is an existing file: move it.")
    with enable_progress(err):
        result = run_audit(
            data, metadata, generator=generator, epsilon=epsilon, delta=delta, params=_parse_params(param),
            attacks=kinds, mia_attacks=None if "mia" in names else chosen, games=games,
            targets=targets,  # type: ignore[arg-type]
            n_targets=n_targets, m=rows, n_shadows=shadows, recon_games=recon_games, secret=secret, n_jobs=jobs,
            random_state=random_state, work_dir=work, resume=resume,
        )
    result.save(output)
    _state.wrote(output)
    _print_audit(result)
    out.print(f"Audit written to {output} (games in {work}); it reads raw rows: not for release.")
    if result.verdict == "violation":
        raise typer.Exit(1)


def _print_audit(result: Any) -> None:
    colour = {"violation": "bold red", "consistent": "green", "inconclusive": "yellow"}[result.verdict]
    out.print(f"[bold]Verdict:[/] [{colour}]{result.verdict}[/] (claimed ε = {result.epsilon_claimed:g}, "
              f"δ = {result.delta:g})", highlight=False)
    if getattr(result, "control_summary", None) is not None and result.control_summary():
        out.print(result.control_summary(), highlight=False)
    if result.membership is not None:
        t = RichTable(title="Membership inference (reads raw rows; not part of the DP release)", box=box.SIMPLE)
        for col in ("attack", "AUC [CI]", "TPR@1%FPR", "ε ≥", "verdict"):
            t.add_column(col, justify="left" if col in ("attack", "verdict") else "right", no_wrap=True)
        for r in result.membership.results.values():
            t.add_row(r.attack, f"{r.auc:.2f} [{r.auc_ci[0]:.2f}–{r.auc_ci[1]:.2f}]", f"{r.tpr_at_1pct_fpr:.2f}",
                      f"{r.epsilon_lb:.3g}", str(r.verdict))
        out.print(t)
    if result.reconstruction is not None:
        rec = result.reconstruction
        t = RichTable(title=f"Reconstruction of '{rec.secret}' (random guessing: 50%)", box=box.SIMPLE)
        for col in ("synthetic rows", "method", "accuracy", "95% CI", "AUC"):
            t.add_column(col, justify="left" if col == "method" else "right")
        for size, methods in rec.by_size.items():
            for name, sc in methods.items():
                t.add_row(str(size), name, f"{sc.accuracy:.1%}", f"{sc.accuracy_ci[0]:.1%}–{sc.accuracy_ci[1]:.1%}",
                          "—" if sc.auc != sc.auc else f"{sc.auc:.3f}")
        out.print(t)


def _version(value: bool) -> None:
    if value:
        from dpsynth import __version__

        out.print(f"dpsynth {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print dpsynth's version and exit.")
    ] = False,
) -> None:
    """Differentially private synthetic data, audited."""


@app.command()
def generators() -> None:
    """List the available generators."""
    from dpsynth.synth.registry import available, get_class

    for name in available():
        doc = (get_class(name).__doc__ or "").strip().splitlines()[0]
        out.print(f"{name:12s} {doc}", highlight=False)


from dpsynth._cli_metadata import metadata_app  # noqa: E402 - the `metadata` sub-commands

app.add_typer(metadata_app, name="metadata")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="dpsynth")


if __name__ == "__main__":  # pragma: no cover
    main()

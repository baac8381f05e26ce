"""``dpsynth metadata init``: a metadata skeleton from a CSV header, and the plan screen.

The skeleton reads the file's header line only (public), so writing it costs nothing. Every
unknown is ``null``; a fit on the skeleton as it is infers those with DP, and the command
says what that would cost and what to fill in from the documentation instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from dpsynth.errors import DpsynthError

if TYPE_CHECKING:
    from dpsynth.data.private import PrivateData
    from dpsynth.privacy import PrivacyBudget

metadata_app = typer.Typer(help="Write and check public metadata.", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)


@metadata_app.command("init")
def init(
    data: Annotated[Path, typer.Argument(help="CSV/TSV file: only its header line is read.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the metadata JSON skeleton.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUTPUT if it exists.")] = False,
) -> None:
    """Write a metadata skeleton for DATA from its header only; every unknown is null."""
    from dpsynth.data.domain import format_json
    from dpsynth.data.infer import metadata_skeleton
    from dpsynth.errors import InvalidParameterError

    try:
        if output.exists() and not force:
            raise InvalidParameterError(f"{output} exists; pass --force to overwrite it.")
        doc, lines = metadata_skeleton(data)
        _write(output, format_json(doc))
    except DpsynthError as exc:
        _err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    _out.print(f"Metadata skeleton written to {output} ({len(doc['columns'])} columns; nothing read but the header).")
    _out.print("Left null, each unknown is inferred with DP at fit time and charged to the budget:", highlight=False)
    for line in lines:
        _out.print(f"  {line}", highlight=False, soft_wrap=True)
    _out.print("Values from the documentation cost nothing and are exact: fill in what you can, then "
               f"`dpsynth fit {data} -m {output} -o model.dps`.", highlight=False)


def _write(path: Path, text: str) -> None:
    from dpsynth._files import atomic_open

    with atomic_open(path) as fh:
        fh.write(text)


def plan_printer(console: Console) -> Callable[[PrivateData, PrivacyBudget], None]:
    """A callback for :func:`dpsynth.api.fit` that prints the DP inference plan (one screen).

    Prints only when the metadata is absent or leaves types or missingness unknown.
    """

    def show(private: PrivateData, budget: PrivacyBudget) -> None:
        from dpsynth.api import inference_plan_lines
        from dpsynth.data.infer import PendingDomain

        if not isinstance(private.domain, PendingDomain):
            return
        lines = inference_plan_lines(private, budget)
        if not lines:
            return
        console.print(f"[bold]{lines[0]}[/]", highlight=False)
        for line in lines[1:]:
            console.print(f"  {line}", highlight=False, soft_wrap=True)
        console.print("  (the privacy report lists each inferred item, its cost and how reliable it is; "
                      "`dpsynth metadata init` writes a skeleton to fill from documentation instead)", highlight=False)

    return show

"""The profiles service's operator commands: `corridor-profiles --help`.

Settings (database, node) come from CORRIDOR_* variables or CORRIDOR_CONFIG, as for the service.
Imported rows are written with their events to the outbox; the running service publishes them.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path

import typer
from corridor_runtime.entrypoint import run_service
from corridor_runtime.registry_file import ConfigError
from corridor_runtime.settings import NodeSettings
from corridor_runtime.terminal import operator_console
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import csv_import
from .bootstrap import SERVICE, build

# Rows hold personal data: a traceback must not print its local variables.
app = typer.Typer(help="Profiles service of a corridor node.", no_args_is_help=True, pretty_exceptions_show_locals=False)
console = operator_console()


class Kind(StrEnum):
    VOLUNTEERS = "volunteers"
    OPPORTUNITIES = "opportunities"


@app.command()
def serve() -> None:
    """Run the service (its consumers, outbox relay and HTTP API)."""
    run_service(SERVICE, build)


@app.command("import")
def import_csv(
    kind: Kind = typer.Argument(..., help="what the file holds"),
    file: Path = typer.Argument(..., help="a CSV file (UTF-8; ',' or ';' separated)"),
    rejected_report: Path | None = typer.Option(None, help="also write the rejected rows and why to this CSV"),
) -> None:
    """Import volunteers or opportunities; every row is all or nothing and a re-run imports nothing twice.

    Exit code: 0 when every row is imported or was already, 3 when some rows were rejected, 2 when
    the file or the settings cannot be used at all.
    """
    try:
        host = build(NodeSettings(service=SERVICE))
        total = csv_import.row_count(file, kind.value)
    except (csv_import.CsvFileError, ConfigError, ValidationError) as error:
        console.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)  # file and cell text as they are
        raise typer.Exit(2) from None

    async def run() -> csv_import.ImportReport:
        await host.upgrade_schema()
        try:
            with Progress(TextColumn(f"importing {kind.value}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                          console=console, transient=False) as progress:
                task = progress.add_task(kind.value, total=total)
                return await csv_import.import_file(host, file, kind.value, on_row=lambda: progress.advance(task))
        finally:
            await host.db.dispose()

    report = asyncio.run(run())
    console.print(f"{escape(str(file))}: {report.rows} rows — [green]{len(report.imported)} imported[/green], "
                  f"{len(report.already)} already imported, [red]{len(report.rejected)} rejected[/red]")
    if report.rejected:
        table = Table(title="rejected rows")
        for column in ("line", "reference", "why"):
            table.add_column(column, overflow="fold")
        for line, reference, why in report.rejected:
            table.add_row(str(line), escape(reference or "-"), escape(why))
        console.print(table)
        if rejected_report:
            csv_import.write_rejected(report, rejected_report)
            console.print(escape(f"rejected rows written to {rejected_report}"))
        raise typer.Exit(3)

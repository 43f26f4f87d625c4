"""The reporting service's operator commands: `corridor-reporting --help`."""

from __future__ import annotations

import asyncio

import typer
from corridor_runtime.entrypoint import run_service, tune_collector
from corridor_runtime.terminal import operator_console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from .bootstrap import SERVICE, build
from .indicators import compute
from .rebuild import rebuild as rebuild_projections

app = typer.Typer(help="Reporting service of a corridor node.", no_args_is_help=True)
console = operator_console()


@app.command()
def serve() -> None:
    """Run the service (projections and the indicators API)."""
    run_service(SERVICE, build)


@app.command()
def rebuild() -> None:
    """Drop the projections and replay the node's streams from the start (with the service stopped)."""
    host = build()

    async def run():
        with Progress(TextColumn("replaying events"), BarColumn(), MofNCompleteColumn(), console=console) as progress:
            task = progress.add_task("replay", total=None)
            await rebuild_projections(host, on_progress=lambda done, total: progress.update(task, completed=done, total=total))

    tune_collector()
    asyncio.run(run())
    console.print("projections rebuilt")


@app.command()
def show() -> None:
    """Print the indicators as tables (suppressed cells are blank)."""
    host = build()

    async def run():
        await host.upgrade_schema()
        async with host.sessions() as session:
            return await compute(session)

    figures = asyncio.run(run())
    for name, value in figures.items():
        if isinstance(value, dict) and "cells" in value:
            table = Table(title=name.replace("_", " "))
            table.add_column("")
            for column in [*value["columns"], "total"]:
                table.add_column(column, justify="right")
            for row, cells, total in zip(value["rows"], value["cells"], value["row_totals"]):
                table.add_row(row, *("" if v is None else str(v) for v in [*cells, total]))
            table.add_row("total", *("" if v is None else str(v) for v in [*value["column_totals"], value["total"]]))
            console.print(table)
        elif isinstance(value, dict):
            console.print(f"{name.replace('_', ' ')}: " + ", ".join(
                f"{k} {v if v is not None else '(hidden)'}" for k, v in value.items()))
        elif name != "threshold":
            console.print(f"{name.replace('_', ' ')}: {value if value is not None else '(hidden)'}")

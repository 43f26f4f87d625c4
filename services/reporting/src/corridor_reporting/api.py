"""The reporting API: every indicator as JSON, and each table as CSV."""

from __future__ import annotations

import csv
import io

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from corridor_runtime.access import Role, allow
from corridor_runtime.service import ServiceHost

from . import dashboard
from .indicators import compute
from .metrics import NodeMetrics


def table_csv(table: dict) -> str:
    """A table as CSV, its totals in the last column and row. A hidden entry reads `suppressed`
    (docs/reporting.md), never a blank that a spreadsheet would sum as 0."""
    shown = lambda v: "suppressed" if v is None else v  # noqa: E731
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["", *table["columns"], "total"])
    for name, cells, total in zip(table["rows"], table["cells"], table["row_totals"]):
        writer.writerow([name, *map(shown, cells), shown(total)])
    writer.writerow(["total", *map(shown, table["column_totals"]), shown(table["total"])])
    return out.getvalue()


def create_app(host: ServiceHost, *, threshold: int, metrics: NodeMetrics) -> FastAPI:
    app = FastAPI(title=f"Corridor reporting — node {host.settings.node_id}",
                  description=f"Indicators; every count below {threshold} people is suppressed (blank / null).", version="1")

    async def indicators() -> dict:
        async with host.sessions() as session:
            return await compute(session, threshold=threshold)

    figures = [allow(Role.COORDINATOR, Role.OPERATOR)]  # suppressed: no personal data

    @app.get("/indicators", tags=["indicators"], dependencies=figures)
    async def all_indicators():
        return await indicators()

    @app.get("/indicators/{name}.csv", response_class=PlainTextResponse, tags=["indicators"], dependencies=figures,
             responses={200: {"content": {"text/csv": {}}, "description": "the table, suppressed cells blank"},
                        404: {"description": "no table of that name"}})
    async def one_table(name: str):
        found = (await indicators()).get(name)
        if not isinstance(found, dict) or "cells" not in found:
            raise HTTPException(404, f"no table {name}")
        return PlainTextResponse(table_csv(found), media_type="text/csv")

    @app.get("/", response_class=HTMLResponse, tags=["dashboard"], summary="The dashboard, with charts", dependencies=figures)
    async def show_dashboard():
        return HTMLResponse(dashboard.render(await indicators(), node=host.settings.node_id))

    @app.get("/metrics", response_class=PlainTextResponse, tags=["operations"],
             summary="Prometheus metrics of every service of the node", dependencies=[allow(Role.SCRAPER, Role.OPERATOR)],
             responses={200: {"content": {"text/plain; version=0.0.4; charset=utf-8": {}}, "description": "Prometheus text format"}})
    async def prometheus():
        return Response(metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/health", tags=["operations"])
    async def health():
        return await host.status()

    return app

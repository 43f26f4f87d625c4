"""The operators' HTTP API of matching: proposals and the home side of placements."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select

from corridor_contracts.values import MatchSummary
from corridor_runtime.access import Audit, Role, allow, audited
from corridor_runtime.service import ServiceHost

from . import erasure, saga
from . import taxonomy as taxonomy_module
from .explanations import explain
from .rounds import Rounds
from .tables import placements, volunteers


class PlacementView(BaseModel):
    placement_id: uuid.UUID
    volunteer_id: uuid.UUID
    opportunity_id: uuid.UUID
    host_node: str
    status: saga.Status
    score: float
    match: MatchSummary
    proposal_expires_at: datetime
    request_expires_at: datetime | None
    decline_reason: str | None
    started_on: date | None
    completed_on: date | None
    hours: Decimal
    created_at: datetime
    updated_at: datetime
    explanation: list[str] = []


class Page(BaseModel):
    items: list[PlacementView]
    total: int
    limit: int
    offset: int


Operator = Annotated[Audit, audited(Role.OPERATOR)]  # her placements are about her: each read is recorded


class RoundResult(BaseModel):
    proposed: list[uuid.UUID]


def create_app(host: ServiceHost, *, rounds: Rounds, secret: bytes, deadlines: saga.Deadlines) -> FastAPI:
    app = FastAPI(title=f"Corridor matching — node {host.settings.node_id}",
                  description="Proposals to this node's volunteers and the home side of their placements.", version="1")
    errors = {404: {"description": "unknown placement"}, 409: {"description": "not possible in its current state"}}

    @app.exception_handler(saga.SagaError)
    async def _saga_error(_request, error: saga.SagaError):
        return JSONResponse(status_code=error.status, content={"detail": [{"loc": [], "msg": error.message, "type": "conflict"}]})

    async def view(placement_id, language: str | None = None) -> PlacementView:
        async with host.sessions() as session:
            row = (await session.execute(select(placements).where(placements.c.placement_id == str(placement_id)))).first()
            her = (await session.execute(select(volunteers.c.profile).where(
                volunteers.c.volunteer_id == row.volunteer_id))).first() if row is not None else None
        if row is None:
            raise saga.NotFound(f"no placement {placement_id}")
        placement = PlacementView.model_validate(row._mapping)
        language = language or ((her.profile or {}).get("preferred_language") if her else None) or "en"
        placement.explanation = explain(placement.match, language=language, taxonomy=taxonomy_module.bundled())
        return placement

    async def changed(audit: Audit, placement_id) -> PlacementView:
        found = await view(placement_id)
        await audit.changed("volunteer", [found.volunteer_id])
        return found

    @app.get("/placements", response_model=Page, tags=["placements"])
    async def list_placements(audit: Operator, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                              offset: Annotated[int, Query(ge=0, le=10**9)] = 0, status: saga.Status | None = None, volunteer_id: uuid.UUID | None = None):
        query = select(placements)
        if status:
            query = query.where(placements.c.status == status.value)
        if volunteer_id:
            query = query.where(placements.c.volunteer_id == str(volunteer_id))
        async with host.sessions() as session:
            total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
            rows = await session.execute(query.order_by(placements.c.created_at, placements.c.placement_id).limit(limit).offset(offset))
            items = [PlacementView.model_validate(r._mapping) for r in rows]
        await audit.read("volunteer", [p.volunteer_id for p in items])
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @app.get("/placements/{placement_id}", response_model=PlacementView, responses=errors, tags=["placements"])
    async def get_placement(placement_id: uuid.UUID, audit: Operator,
                            language: Annotated[str | None, Query(pattern="^(en|fr|es|it|el)$",
                                                                  description="default: her preferred language")] = None):
        found = await view(placement_id, language)
        await audit.read("volunteer", [found.volunteer_id])
        return found

    @app.post("/placements/{placement_id}/accept", response_model=PlacementView, responses=errors, tags=["placements"])
    async def accept(placement_id: uuid.UUID, audit: Operator):
        async with host.unit_of_work() as uow:
            await saga.accept(uow, placement_id, secret=secret, deadlines=deadlines)
        return await changed(audit, placement_id)

    @app.post("/placements/{placement_id}/decline", response_model=PlacementView, responses=errors, tags=["placements"])
    async def decline(placement_id: uuid.UUID, audit: Operator):
        async with host.unit_of_work() as uow:
            await saga.decline(uow, placement_id)
        rounds.wake()
        return await changed(audit, placement_id)

    @app.post("/placements/{placement_id}/withdraw", response_model=PlacementView, responses=errors, tags=["placements"])
    async def withdraw(placement_id: uuid.UUID, body: saga.Withdrawal, audit: Operator):
        async with host.unit_of_work() as uow:
            await saga.withdraw(uow, placement_id, body)
        rounds.wake()
        return await changed(audit, placement_id)

    @app.get("/erasures", response_model=list[erasure.ErasureView], tags=["erasure"],
             summary="Erasure requests sent to host nodes, and their receipts (missing=true: those not back yet)")
    async def list_erasures(audit: Operator, volunteer_id: uuid.UUID | None = None, missing: bool = False):
        async with host.sessions() as session:
            found = await erasure.listing(session, volunteer_id=volunteer_id, missing=missing)
        await audit.read("volunteer", [e.volunteer_id for e in found])
        return found

    @app.post("/rounds", response_model=RoundResult, tags=["rounds"], summary="Run a matching round now",
              dependencies=[allow(Role.OPERATOR)])
    async def run_round():
        return {"proposed": await rounds.run_once()}

    @app.get("/health", tags=["operations"])
    async def health():
        return await host.status()

    return app

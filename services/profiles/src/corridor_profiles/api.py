"""The operators' HTTP API of the profiles service (FastAPI; OpenAPI at /docs and /openapi.json).

Every write runs in one unit of work: the change and its events commit together, and the response
is sent only after the commit. Invalid input gets a 4xx that names the field; nothing an operator
can send produces a 500.
"""

from __future__ import annotations

import json
import re

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Generic, TypeVar

import structlog
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError
from starlette.middleware.base import BaseHTTPMiddleware

from corridor_runtime.access import Audit, Role, allow, audited
from corridor_runtime.service import ServiceHost

from . import opportunities, organisations, outcomes, placements, volunteers
from .errors import ProfilesError

T = TypeVar("T")
log = structlog.get_logger("corridor.profiles.api")
MAX_BODY = 1_000_000


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class Problem(BaseModel):
    detail: list[dict]


Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="items to skip")]
# Volunteers, organisations' contact people and the placements of her the node hosts are personal
# data: each read and change of one is recorded in the audit trail. Opportunities are public.
Operator = Annotated[Audit, audited(Role.OPERATOR)]
OPERATOR = [allow(Role.OPERATOR)]
ERRORS = {404: {"model": Problem}, 409: {"model": Problem}, 413: {"model": Problem}, 422: {"model": Problem}}


def _problem(status: int, message: str, *, field: str | None = None, kind: str = "invalid") -> JSONResponse:
    loc = ["body", *field.split(".")] if field else []
    return JSONResponse(status_code=status, content={"detail": [{"loc": loc, "msg": message, "type": kind}]})


# A JSON \u0000 escape not itself escaped: a NUL character, which no text field may hold (PostgreSQL
# cannot store it, SQLite would, so refusing it keeps both the same).
NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
SURROGATE = re.compile(rb"\\ud[89a-f]", re.IGNORECASE)  # a surrogate escape: valid only as a pair


class BodyLimit(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return _problem(413, f"the request body is larger than {MAX_BODY} bytes", kind="too_large")
        if request.method in ("POST", "PUT", "PATCH"):
            body = await request.body()
            if NUL.search(body):
                return _problem(422, "text may not contain NUL characters (\\u0000)", kind="nul_character")
            if SURROGATE.search(body) and not _valid_unicode(body):
                return _problem(422, "text must be valid Unicode (a \\ud800-\\udfff escape without its pair)",
                                kind="invalid_unicode")
        return await call_next(request)


def _valid_unicode(body: bytes) -> bool:
    try:
        json.dumps(json.loads(body), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except ValueError:
        return True  # not JSON at all: the validation answers that
    return True


def create_app(host: ServiceHost, *, home_country: str) -> FastAPI:
    app = FastAPI(title=f"Corridor profiles — node {host.settings.node_id}",
                  description="Volunteers, host organisations, opportunities, the host side of placements, outcomes.",
                  version="1")
    app.add_middleware(BodyLimit)

    @app.exception_handler(ProfilesError)
    async def _domain_error(_request, error: ProfilesError):
        return _problem(error.status, error.message, field=error.field, kind=type(error).__name__.lower())

    @app.exception_handler(IntegrityError)
    async def _race(_request, _error):  # two writers raced on a unique value
        return _problem(409, "the change conflicts with another one made at the same moment; read and retry",
                        kind="conflict")

    @app.exception_handler(DataError)
    async def _unstorable(_request, error: DataError):  # a value valid here that the database refuses
        log.warning("the database refused a value", error=str(error.orig)[:300])
        return _problem(422, "a value cannot be stored as given (out of range or not representable)", kind="unstorable")

    async def write(operation: Callable[..., Awaitable[T]], *args, **kwargs) -> T:
        async with host.unit_of_work() as uow:
            return await operation(uow, *args, **kwargs)

    async def read(operation: Callable[..., Awaitable[T]], *args, **kwargs) -> T:
        async with host.sessions() as session:
            return await operation(session, *args, **kwargs)

    async def hosted_change(audit: Audit, placement: placements.PlacementView) -> placements.PlacementView:
        await audit.changed("pseudonym", [placement.volunteer])
        return placement

    async def paged(operation, limit: int, offset: int, **filters) -> dict:
        items, total = await read(operation, limit=limit, offset=offset, **filters)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    # Volunteers (home node) -------------------------------------------------------------------
    @app.post("/volunteers", status_code=201, response_model=volunteers.VolunteerView, responses=ERRORS, tags=["volunteers"])
    async def register_volunteer(body: volunteers.NewVolunteer, audit: Operator):
        found = await write(volunteers.register, body)
        await audit.created("volunteer", [found.volunteer_id])
        return found

    @app.get("/volunteers", response_model=Page[volunteers.VolunteerView], responses=ERRORS, tags=["volunteers"])
    async def list_volunteers(audit: Operator, limit: Limit = 50, offset: Offset = 0,
                              status: Annotated[str | None, Query(pattern="^(active|erased)$")] = None):
        found = await paged(volunteers.page, limit, offset, status=status)
        await audit.read("volunteer", [v.volunteer_id for v in found["items"]])
        return found

    @app.get("/volunteers/{volunteer_id}", response_model=volunteers.VolunteerView, responses=ERRORS, tags=["volunteers"])
    async def get_volunteer(volunteer_id: uuid.UUID, audit: Operator):
        found = await read(volunteers.get, volunteer_id)
        await audit.read("volunteer", [volunteer_id])
        return found

    @app.put("/volunteers/{volunteer_id}", response_model=volunteers.VolunteerView, responses=ERRORS, tags=["volunteers"])
    async def update_volunteer(volunteer_id: uuid.UUID, body: volunteers.VolunteerDetails, audit: Operator):
        found = await write(volunteers.update_details, volunteer_id, body)
        await audit.changed("volunteer", [volunteer_id])
        return found

    @app.post("/volunteers/{volunteer_id}/consents", response_model=volunteers.VolunteerView, responses=ERRORS,
              tags=["volunteers"])
    async def change_consent(volunteer_id: uuid.UUID, body: volunteers.ConsentChange, audit: Operator):
        found = await write(volunteers.change_consent, volunteer_id, body)
        await audit.changed("volunteer", [volunteer_id])
        return found

    @app.delete("/volunteers/{volunteer_id}", response_model=volunteers.VolunteerView, responses=ERRORS,
                tags=["volunteers"], summary="Erase her personal data")
    async def erase_volunteer(volunteer_id: uuid.UUID, audit: Operator):
        found = await write(volunteers.erase, volunteer_id)
        await audit.erased("volunteer", [volunteer_id])
        return found

    @app.post("/volunteers/{volunteer_id}/outcomes", status_code=201, response_model=outcomes.OutcomeView,
              responses=ERRORS, tags=["volunteers"])
    async def record_outcome(volunteer_id: uuid.UUID, body: outcomes.NewOutcome, audit: Operator):
        found = await write(outcomes.record, volunteer_id, body, home_country=home_country)
        await audit.changed("volunteer", [volunteer_id])
        return found

    # Host organisations and opportunities -----------------------------------------------------
    @app.post("/organisations", status_code=201, response_model=organisations.OrganisationView, responses=ERRORS,
              tags=["organisations"])
    async def register_organisation(body: organisations.NewOrganisation, audit: Operator):
        found = await write(organisations.register, body)
        await audit.created("organisation", [found.organisation_id])
        return found

    @app.get("/organisations", response_model=Page[organisations.OrganisationView], responses=ERRORS, tags=["organisations"])
    async def list_organisations(audit: Operator, limit: Limit = 50, offset: Offset = 0):
        found = await paged(organisations.page, limit, offset)
        await audit.read("organisation", [o.organisation_id for o in found["items"]])
        return found

    @app.get("/organisations/{organisation_id}", response_model=organisations.OrganisationView, responses=ERRORS,
             tags=["organisations"])
    async def get_organisation(organisation_id: uuid.UUID, audit: Operator):
        found = await read(organisations.get, organisation_id)
        await audit.read("organisation", [organisation_id])
        return found

    @app.post("/opportunities", status_code=201, response_model=opportunities.OpportunityView, responses=ERRORS,
              tags=["opportunities"], dependencies=OPERATOR)
    async def publish_opportunity(body: opportunities.NewOpportunity):
        return await write(opportunities.publish, body)

    @app.get("/opportunities", response_model=Page[opportunities.OpportunityView], responses=ERRORS, tags=["opportunities"], dependencies=OPERATOR)
    async def list_opportunities(limit: Limit = 50, offset: Offset = 0, status: opportunities.Status | None = None):
        return await paged(opportunities.page, limit, offset, status=status)

    @app.get("/opportunities/{opportunity_id}", response_model=opportunities.OpportunityView, responses=ERRORS,
             tags=["opportunities"], dependencies=OPERATOR)
    async def get_opportunity(opportunity_id: uuid.UUID):
        return await read(opportunities.get, opportunity_id)

    @app.put("/opportunities/{opportunity_id}", response_model=opportunities.OpportunityView, responses=ERRORS,
             tags=["opportunities"], dependencies=OPERATOR)
    async def revise_opportunity(opportunity_id: uuid.UUID, body: opportunities.OpportunityDetails):
        return await write(opportunities.revise, opportunity_id, body)

    @app.post("/opportunities/{opportunity_id}/close", response_model=opportunities.OpportunityView, responses=ERRORS,
              tags=["opportunities"], dependencies=OPERATOR)
    async def close_opportunity(opportunity_id: uuid.UUID, body: opportunities.CloseRequest):
        return await write(opportunities.close, opportunity_id, body)

    # The host side of placements --------------------------------------------------------------
    @app.get("/placements", response_model=Page[placements.PlacementView], responses=ERRORS, tags=["placements"])
    async def list_placements(audit: Operator, limit: Limit = 50, offset: Offset = 0, status: placements.Status | None = None):
        found = await paged(placements.page, limit, offset, status=status)
        await audit.read("pseudonym", [p.volunteer for p in found["items"]])
        return found

    @app.get("/placements/{placement_id}", response_model=placements.PlacementView, responses=ERRORS, tags=["placements"])
    async def get_placement(placement_id: uuid.UUID, audit: Operator):
        found = await read(placements.get, placement_id)
        await audit.read("pseudonym", [found.volunteer])
        return found

    @app.post("/placements/{placement_id}/start", response_model=placements.PlacementView, responses=ERRORS,
              tags=["placements"])
    async def start_placement(placement_id: uuid.UUID, body: placements.Start, audit: Operator):
        return await hosted_change(audit, await write(placements.start, placement_id, body))

    @app.post("/placements/{placement_id}/hours", status_code=201, response_model=placements.HoursView, responses=ERRORS,
              tags=["placements"])
    async def log_hours(placement_id: uuid.UUID, body: placements.HoursEntry, audit: Operator):
        found = await write(placements.log_hours, placement_id, body)
        await hosted_change(audit, await read(placements.get, placement_id))
        return found

    @app.post("/placements/{placement_id}/hours/{entry_id}/approve", response_model=placements.HoursView,
              responses=ERRORS, tags=["placements"])
    async def approve_hours(placement_id: uuid.UUID, entry_id: uuid.UUID, body: placements.Approval, audit: Operator):
        found = await write(placements.approve_hours, placement_id, entry_id, body)
        await hosted_change(audit, await read(placements.get, placement_id))
        return found

    @app.post("/placements/{placement_id}/complete", response_model=placements.PlacementView, responses=ERRORS,
              tags=["placements"])
    async def complete_placement(placement_id: uuid.UUID, body: placements.Completion, audit: Operator):
        return await hosted_change(audit, await write(placements.complete, placement_id, body))

    @app.post("/placements/{placement_id}/withdraw", response_model=placements.PlacementView, responses=ERRORS,
              tags=["placements"])
    async def withdraw_placement(placement_id: uuid.UUID, body: placements.Withdrawal, audit: Operator):
        return await hosted_change(audit, await write(placements.withdraw, placement_id, body))

    @app.get("/health", tags=["operations"])
    async def health():
        return await host.status()

    return app

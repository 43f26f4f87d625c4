"""Follow-up outcomes of a volunteer, recorded on her home node.

Each outcome stays on her node: it is emitted as `OutcomeRecorded`, a local event that the node's
reporting counts. One outcome with its dimensions (her age band, the host's kind, sector and
country, the month) would single her out to the host that knows whom it hosted, so no other node
receives it; reporting broadcasts the node's suppressed figures instead (docs/reporting.md).
"""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from corridor_contracts import events
from corridor_contracts.events.placements import OutcomeKind
from corridor_contracts.types import AgeBand
from corridor_runtime.unit_of_work import UnitOfWork

from . import volunteers
from .errors import Conflict, Invalid
from .tables import corridor_opportunities, outcomes


class NewOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: OutcomeKind
    recorded_on: date
    opportunity_id: uuid.UUID = Field(description="the opportunity of the placement this outcome follows")
    months_after_placement: int = Field(ge=0, le=120)


class OutcomeView(NewOutcome):
    outcome_id: uuid.UUID
    volunteer_id: uuid.UUID


async def record(uow: UnitOfWork, volunteer_id: uuid.UUID, new: NewOutcome, *, home_country: str) -> OutcomeView:
    birth_date, _origin = await volunteers.birth_date_and_origin(uow.session, volunteer_id)
    host = (await uow.session.execute(select(corridor_opportunities).where(
        corridor_opportunities.c.opportunity_id == str(new.opportunity_id)))).first()
    if host is None:
        raise Invalid(f"no opportunity {new.opportunity_id} is known in the corridor", field="opportunity_id")
    duplicate = (await uow.session.execute(select(outcomes.c.outcome_id).where(
        outcomes.c.volunteer_id == str(volunteer_id), outcomes.c.recorded_on == new.recorded_on,
        outcomes.c.outcome == new.outcome.value))).first()
    if duplicate:
        raise Conflict(f"this outcome was already recorded for {new.recorded_on}")
    outcome_id = uuid.uuid4()
    # Anonymised dimensions only, and even those stay on this node (a local event). Region of origin
    # stays 'unknown' until the corridor settles a country → region table.
    event = events.OutcomeRecorded(
        outcome_id=outcome_id, home_country=home_country, host_country=host.host_country, host_kind=host.host_kind,
        host_sector=host.host_sector, age_band=AgeBand.on(birth_date, new.recorded_on), outcome=new.outcome,
        recorded_month=f"{new.recorded_on:%Y-%m}", months_after_placement=new.months_after_placement)
    await uow.session.execute(outcomes.insert().values(
        outcome_id=str(outcome_id), volunteer_id=str(volunteer_id), outcome=new.outcome.value, recorded_on=new.recorded_on,
        dimensions=event.model_dump(mode="json", exclude={"outcome_id"})))
    uow.emit(event)
    return OutcomeView(outcome_id=outcome_id, volunteer_id=volunteer_id, **new.model_dump())

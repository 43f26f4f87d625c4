"""Follow-up outcomes: recorded on her home node, shared with the corridor only as suppressed figures.

An outcome (employed, in training, studying, none) described by her age band, the host's kind,
sector and country, and the month, singles her out to a host that knows whom it hosted from that
home node. So the detailed outcome is a local event (`OutcomeRecorded`: her home node's own
services, never another node), and what the corridor learns is each home node's counts by outcome
and host country, suppressed before they leave it (`OutcomeFigures`; docs/reporting.md).

`PlacementOutcome` v1 (events/placements.py), the detailed outcome as a broadcast, is no longer
sent by this code; receivers still read it from partners on older code.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, model_validator

from ..catalogue import Event, Scope
from ..types import AgeBand, CountryCode, OrganisationKind, Sector, WorldRegion
from .placements import OutcomeKind

Count = Annotated[int, Field(ge=0, le=10_000_000)]


class OutcomeRecorded(Event):
    """A follow-up of one of this node's volunteers (local: it never leaves her home node).

    Anonymised as `PlacementOutcome` v1 was (dimensions only, nothing that names her), but still
    about one person: reporting on her home node counts it in the node's own figures."""

    TYPE = "OutcomeRecorded"
    SCOPE = Scope.LOCAL

    outcome_id: UUID
    home_country: CountryCode
    host_country: CountryCode
    host_kind: OrganisationKind
    host_sector: Sector
    age_band: AgeBand = AgeBand.UNKNOWN
    region_of_origin: WorldRegion = WorldRegion.UNKNOWN
    outcome: OutcomeKind
    recorded_month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")
    months_after_placement: int = Field(ge=0, le=120)


class OutcomeFigures(Event):
    """The sending node's follow-up outcomes, all of them to date, counted by outcome (rows) and host
    country (columns), with their totals, and already suppressed: a hidden entry is null. The only
    outcome data that leaves a node.

    The figures are the sender's own: only it may state them (docs/protocol.md), and a version
    replaces the one before if its `revision` is higher. A receiver refuses figures that publish a
    count of 1 to threshold-1, or whose published entries do not add up."""

    TYPE = "OutcomeFigures"
    SCOPE = Scope.BROADCAST

    revision: int = Field(ge=1, description="raised with every version; a higher one replaces the figures before it")
    threshold: int = Field(ge=2, le=100, description="the smallest count of people the sender publishes")
    outcomes: list[OutcomeKind] = Field(min_length=1, max_length=20, description="the rows")
    host_countries: list[CountryCode] = Field(max_length=250, description="the columns: every host country counted")
    counts: list[list[Count | None]] = Field(description="a row per outcome, a count per host country; null: hidden")
    outcome_totals: list[Count | None]
    host_country_totals: list[Count | None]
    total: Count | None

    @model_validator(mode="after")
    def _a_suppressed_table(self) -> OutcomeFigures:
        rows, columns = len(self.outcomes), len(self.host_countries)
        if len(set(self.outcomes)) != rows or len(set(self.host_countries)) != columns:
            raise ValueError("an outcome or a host country is listed twice")
        if len(self.counts) != rows or any(len(row) != columns for row in self.counts):
            raise ValueError("counts must have one row per outcome and one count per host country")
        if len(self.outcome_totals) != rows or len(self.host_country_totals) != columns:
            raise ValueError("one total per outcome and one per host country")
        lines = [(row, total) for row, total in zip(self.counts, self.outcome_totals)]
        lines += [([row[j] for row in self.counts], total) for j, total in enumerate(self.host_country_totals)]
        lines += [(self.outcome_totals, self.total), (self.host_country_totals, self.total)]
        for members, total in lines:
            if total is not None and None not in members and sum(members) != total:
                raise ValueError(f"published counts {members} do not add up to their total {total}")
            # A hidden count is at least 1.
            if total is not None and sum(1 if m is None else m for m in members) > total:
                raise ValueError(f"published counts {members} exceed their total {total}")
        small = [v for members, total in lines for v in (*members, total) if v is not None and 0 < v < self.threshold]
        if small:
            raise ValueError(f"a count of {small[0]} is published: figures hide every count under {self.threshold}")
        return self

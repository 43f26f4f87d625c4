"""CSV import of volunteers and opportunities, row by row.

Each row is all or nothing (its own unit of work). Rows need a `reference` (the partner's own id),
so re-running a file imports nothing twice: a reference already on the node is reported as
"already imported" when the row is the same person (her personal fields as stored), and rejected when
it names someone else. Lists inside a cell are separated by ';' and pairs by ':' (e.g. `fr:B2;ar:C2`).

Rows are split by the csv module only: a line separator (U+2028) or a form feed typed inside a cell
stays in the cell.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from corridor_runtime.service import ServiceHost
from pydantic import ValidationError
from sqlalchemy import select

from . import opportunities, volunteers
from .errors import ProfilesError
from .tables import opportunities as opportunities_table
from .tables import organisations as organisations_table
from .tables import volunteers as volunteers_table

VOLUNTEER_COLUMNS = (
    "reference", "given_name", "family_name", "email", "phone", "birth_date", "country_of_origin", "preferred_language",
    "country", "region", "city", "willing_to_move", "remote_only", "languages", "skills", "free_text_skills",
    "hours_per_week", "available_from", "available_until", "sector_preferences",
    "consent_processing", "consent_share_match_profile", "consent_disclose_contact",
)
OPPORTUNITY_COLUMNS = (
    "reference", "organisation_reference", "title", "description", "required_skills", "languages", "country", "region",
    "city", "remote", "hours_per_week", "starts_on", "ends_on", "application_deadline", "slots_total",
)
REQUIRED = {"volunteers": {"reference", "given_name", "family_name", "country_of_origin", "preferred_language", "country",
                           "languages", "hours_per_week", "available_from", "consent_processing"},
            "opportunities": {"reference", "organisation_reference", "title", "country", "hours_per_week", "starts_on",
                              "slots_total"}}
TRUE, FALSE = {"yes", "y", "true", "1", "x", "oui", "sí", "si", "sì"}, {"no", "n", "false", "0", "", "non"}
# The longest text any field takes is 4000 characters (a description); a longer cell is refused as it is,
# not read into a model. The csv module's own limit (131072) would end the whole import with an error.
MAX_CELL = 10_000
NUL_REFUSED = "text may not contain NUL characters (\\u0000)"  # as the HTTP API says it


# Where a field of the model comes from in the file, to name the column the operator must fix.
COLUMN_OF = {
    "place.country": "country", "place.region": "region", "place.city": "city", "place.remote": "remote",
    "place.willing_to_move": "willing_to_move", "place.remote_only": "remote_only",
    "availability.hours_per_week": "hours_per_week", "availability.available_from": "available_from",
    "availability.available_until": "available_until", "availability": "available_from/available_until",
    "consents.processing": "consent_processing", "consents.share_match_profile": "consent_share_match_profile",
    "consents.disclose_contact": "consent_disclose_contact",
}


def column_of(location: tuple | str) -> str:
    """`('languages', 1, 'level')` → `languages (item 2) level`; `place.country` → `country`."""
    parts = location.split(".") if isinstance(location, str) else [str(p) for p in location]
    for size in (2, 1):
        key = ".".join(parts[:size])
        if key in COLUMN_OF:
            parts = [COLUMN_OF[key], *parts[size:]]
            break
    words = [parts[0]] + [f"(item {int(p) + 1})" if p.isdigit() else p for p in parts[1:]]
    return " ".join(words)


def _describe(error: ValidationError) -> str:
    return "; ".join(f"{column_of(e['loc']) if e['loc'] else '(row)'}: {e['msg']}" for e in error.errors()[:10])


class CsvFileError(ValueError):
    """The file as a whole cannot be read (missing, not UTF-8, not CSV, missing columns)."""


class RowError(ValueError):
    pass


@cache
def known_skill_codes() -> frozenset[str] | None:
    """The codes of the corridor's skills taxonomy, from the data file the matching service ships
    (read as data, not code); None where a node's install lacks it, and then codes are checked by form only."""
    try:
        data = json.loads(resources.files("corridor_matching").joinpath("data/skills.json").read_text(encoding="utf-8"))
    except (ModuleNotFoundError, OSError, ValueError):
        return None
    return frozenset(s["code"] for s in data["skills"])


def _known_skills(name: str, codes: list[str]) -> list[str]:
    known = known_skill_codes()
    unknown = [c for c in codes if known is not None and c not in known]
    if unknown:
        hint = " (free text goes in free_text_skills)" if name == "skills" else ""
        raise RowError(f"{name}: {', '.join(repr(c) for c in unknown)} "
                       f"{'is not a code' if len(unknown) == 1 else 'are not codes'} of the corridor's skills taxonomy{hint}")
    return codes


@dataclass
class ImportReport:
    imported: list[tuple[int, str]] = field(default_factory=list)  # (line, reference)
    already: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reference, why)

    @property
    def rows(self) -> int:
        return len(self.imported) + len(self.already) + len(self.rejected)


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _flag(name: str, value: str | None) -> bool:
    text = (value or "").strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise RowError(f"{name}: {value!r} is not yes or no")


def _items(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def _pairs(name: str, value: str | None, keys: tuple[str, str]) -> list[dict[str, str]]:
    pairs = []
    for item in _items(value):
        left, sep, right = item.partition(":")
        if not sep or not left.strip() or not right.strip():
            raise RowError(f"{name}: {item!r} is not of the form {keys[0]}:{keys[1]}")
        pairs.append({keys[0]: left.strip(), keys[1]: right.strip()})
    return pairs


def volunteer_from_row(row: dict[str, str]) -> volunteers.NewVolunteer:
    data: dict[str, Any] = {
        "reference": _text(row.get("reference")),
        "given_name": _text(row.get("given_name")),
        "family_name": _text(row.get("family_name")),
        "email": _text(row.get("email")),
        "phone": _text(row.get("phone")),
        "birth_date": _text(row.get("birth_date")),
        "country_of_origin": _text(row.get("country_of_origin")),
        "preferred_language": _text(row.get("preferred_language")),
        "place": {"country": _text(row.get("country")), "region": _text(row.get("region")), "city": _text(row.get("city")),
                  "willing_to_move": _flag("willing_to_move", row.get("willing_to_move")),
                  "remote_only": _flag("remote_only", row.get("remote_only"))},
        "languages": _pairs("languages", row.get("languages"), ("language", "level")),
        "skills": _known_skills("skills", _items(row.get("skills"))),
        "free_text_skills": _items(row.get("free_text_skills")),
        "availability": {"hours_per_week": _text(row.get("hours_per_week")), "available_from": _text(row.get("available_from")),
                         "available_until": _text(row.get("available_until"))},
        "sector_preferences": _items(row.get("sector_preferences")),
        "consents": {"processing": _flag("consent_processing", row.get("consent_processing")),
                     "share_match_profile": _flag("consent_share_match_profile", row.get("consent_share_match_profile")),
                     "disclose_contact": _flag("consent_disclose_contact", row.get("consent_disclose_contact"))},
    }
    return volunteers.NewVolunteer.model_validate(data)


def opportunity_from_row(row: dict[str, str], organisation_id: str) -> opportunities.NewOpportunity:
    required = _pairs("required_skills", row.get("required_skills"), ("code", "level"))
    _known_skills("required_skills", [p["code"] for p in required])
    data: dict[str, Any] = {
        "reference": _text(row.get("reference")),
        "organisation_id": organisation_id,
        "title": _text(row.get("title")),
        "description": (row.get("description") or "").strip(),
        "required_skills": [{"code": p["code"], "level": p["level"]} for p in required],
        "languages": _pairs("languages", row.get("languages"), ("language", "level")),
        "place": {"country": _text(row.get("country")), "region": _text(row.get("region")), "city": _text(row.get("city")),
                  "remote": _flag("remote", row.get("remote"))},
        "hours_per_week": _text(row.get("hours_per_week")),
        "starts_on": _text(row.get("starts_on")),
        "ends_on": _text(row.get("ends_on")),
        "application_deadline": _text(row.get("application_deadline")),
        "slots_total": _text(row.get("slots_total")),
    }
    return opportunities.NewOpportunity.model_validate(data)


def read_rows(path: Path, kind: str) -> list[tuple[int, dict[str, str]]]:
    """The file's rows with their line numbers; the whole file is refused if it cannot be read as the kind."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CsvFileError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise CsvFileError(f"{path}: not UTF-8 text (byte {error.start}); save the file as CSV UTF-8") from None
    # Spreadsheets write CSV one way (quotes doubled inside quoted cells) with ',' or ';' (or tabs) between
    # cells: the header, whose cells are plain column names, tells which. Guessing quoting from a sample
    # as well (csv.Sniffer) takes a file whose first rows hold no quote for one that never doubles them.
    header = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header.count)
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))  # no cell is longer than the file: each is judged below
    try:
        return _rows(path, kind, csv.DictReader(io.StringIO(text, newline=""), dialect=csv.excel, delimiter=delimiter))
    except csv.Error as error:
        raise CsvFileError(f"{path}: not readable as CSV: {error}") from None
    finally:
        csv.field_size_limit(limit)


def _rows(path: Path, kind: str, reader: csv.DictReader) -> list[tuple[int, dict[str, str]]]:
    columns = {c.strip() for c in reader.fieldnames or [] if c}
    missing = sorted(REQUIRED[kind] - columns)
    if missing:
        raise CsvFileError(f"{path}: missing column(s) {', '.join(missing)}; the columns of a {kind} file are: "
                           f"{', '.join(VOLUNTEER_COLUMNS if kind == 'volunteers' else OPPORTUNITY_COLUMNS)}")
    rows = []
    for row in reader:
        clean = {(k or "").strip(): v for k, v in row.items()}
        if None in row or clean.get(""):
            rows.append((reader.line_num, {"__error__": "the row has more cells than the header has columns",
                                           "reference": _short(clean.get("reference"))}))
            continue
        refused = _refused_cells(clean)
        if refused:
            rows.append((reader.line_num, {"__error__": refused, "reference": _short(clean.get("reference"))}))
        elif any((v or "").strip() for v in clean.values()):
            rows.append((reader.line_num, clean))
    return rows


def _short(value: str | None) -> str:
    """A reference fit to show in a report (a refused cell can be anything)."""
    value = (value or "").replace("\x00", "").strip()
    return value if len(value) <= 100 else value[:100] + "…"


def _refused_cells(row: dict[str, str | None]) -> str | None:
    """Why no field can take the row's cells as they are: too long, or holding a NUL character."""
    reasons = []
    for column, value in row.items():
        if value and len(value) > MAX_CELL:
            reasons.append(f"{column}: {len(value)} characters, more than a cell may hold ({MAX_CELL})")
        elif value and "\x00" in value:
            reasons.append(f"{column}: {NUL_REFUSED}")
    return "; ".join(reasons) or None


async def _exists(host: ServiceHost, table, reference: str) -> bool:
    async with host.sessions() as session:
        return (await session.execute(select(table.c.reference).where(table.c.reference == reference))).first() is not None


def _personal(values: dict[str, Any]) -> dict[str, Any]:
    return {c: values[c].isoformat() if isinstance(values[c], date) else values[c] for c in volunteers.PERSONAL_COLUMNS}


async def _registered_as(host: ServiceHost, reference: str) -> dict[str, Any] | None:
    """The personal fields, as stored, of the volunteer registered with this reference, if any."""
    async with host.sessions() as session:
        row = (await session.execute(select(*(volunteers_table.c[c] for c in volunteers.PERSONAL_COLUMNS))
                                     .where(volunteers_table.c.reference == reference))).first()
    return _personal(row._asdict()) if row is not None else None


def _same_person(new: volunteers.NewVolunteer, registered: dict[str, Any], reference: str) -> None:
    """A row whose reference is taken is the volunteer already registered only if her personal fields
    are the ones stored; else it is someone else, who would silently not be registered."""
    differ = [c for c, value in _personal(new.model_dump(mode="json")).items() if value != registered[c]]
    if differ:
        raise RowError(f"reference: {reference!r} is already registered to another person ({', '.join(differ)} "
                       f"{'differs' if len(differ) == 1 else 'differ'}); give her a reference of her own, or correct "
                       "the registered volunteer on the node")


async def _organisation_id(host: ServiceHost, reference: str | None) -> str:
    if not reference:
        raise RowError("organisation_reference: required")
    async with host.sessions() as session:
        found = (await session.execute(select(organisations_table.c.organisation_id)
                                       .where(organisations_table.c.reference == reference))).first()
    if found is None:
        raise RowError(f"organisation_reference: no organisation {reference!r} on this node")
    return found[0]


async def import_file(host: ServiceHost, path: Path, kind: str, *, on_row: Callable[[], None] = lambda: None) -> ImportReport:
    rows = read_rows(path, kind)
    report = ImportReport()
    table = volunteers_table if kind == "volunteers" else opportunities_table
    for line, row in rows:
        reference = (row.get("reference") or "").strip()
        try:
            if "__error__" in row:
                raise RowError(row["__error__"])
            if not reference:
                raise RowError("reference: required (it is what makes a re-run import nothing twice)")
            if kind == "volunteers":
                new = volunteer_from_row(row)
                registered = await _registered_as(host, reference)
                if registered is not None:
                    _same_person(new, registered, reference)
                    report.already.append((line, reference))
                    continue
                operation = volunteers.register
            elif await _exists(host, table, reference):
                report.already.append((line, reference))
                continue
            else:
                new = opportunity_from_row(row, await _organisation_id(host, row.get("organisation_reference")))
                operation = opportunities.publish
            async with host.unit_of_work() as uow:
                await operation(uow, new)
            report.imported.append((line, reference))
        except ValidationError as error:
            report.rejected.append((line, reference, _describe(error)))
        except (RowError, ProfilesError) as error:
            message = error.message if isinstance(error, ProfilesError) else str(error)
            field_name = f"{column_of(error.field)}: " if isinstance(error, ProfilesError) and error.field else ""
            report.rejected.append((line, reference, field_name + message))
        finally:
            on_row()
    return report


def row_count(path: Path, kind: str) -> int:
    return len(read_rows(path, kind))


def write_rejected(report: ImportReport, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["line", "reference", "reason"])
        writer.writerows(report.rejected)



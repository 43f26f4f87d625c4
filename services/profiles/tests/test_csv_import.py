"""CSV import from the operator command line, read as the operator reads it."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from corridor_profiles.bootstrap import build
from profiles_support import SEEDS, organisation, profiles_settings
from harness.access import signed_in_client

EXAMPLES = Path(__file__).parents[1] / "examples"
COMMAND = [str(Path(sys.executable).parent / "corridor-profiles"), "import"]
BAD_ROWS = [
    # line 5: no reference
    ",Nadia,Benali,nadia@example.org,,1990-01-01,DZ,fr,FR,,Marseille,no,no,fr:C2;ar:C2,,,10,2027-01-01,,care,yes,no,no",
    # line 6: a language level that is no CEFR level
    "FR-005,Leila,Mansour,leila@example.org,,1993-05-05,LB,fr,FR,,Nice,no,no,fr:B2;ar:X9,,,10,2027-01-01,,,yes,no,no",
    # line 7: no consent to processing
    "FR-006,Sara,Tesfaye,sara@example.org,,1997-07-07,ER,en,FR,,Lille,no,no,en:B1,,,10,2027-01-01,,,no,no,no",
    # line 8: not a country, and hours not a number
    "FR-007,Hiba,Karim,hiba@example.org,,1989-03-03,ZZ,fr,FR,,Nantes,no,no,fr:B2,,,ten,2027-01-01,,,yes,no,no",
    # line 9: a yes/no cell that is neither
    "FR-008,Ana,Lopes,ana@example.org,,1992-02-02,AO,pt,FR,,Lyon,maybe,no,pt:C2,,,10,2027-01-01,,,yes,no,no",
]


def _env(tmp_path, registry_file, database_url) -> dict[str, str]:
    settings = profiles_settings(tmp_path, registry_file, database_url)
    return {**os.environ, "COLUMNS": "200", "CORRIDOR_NODE_ID": settings.node_id, "CORRIDOR_DATABASE_URL": database_url,
            "CORRIDOR_REGISTRY_FILE": str(registry_file), "CORRIDOR_SIGNING_SEED": SEEDS[settings.node_id].decode(),
            "CORRIDOR_DATA_DIR": str(tmp_path)}


def _run(args, env):
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, env=env, timeout=120)


async def _count(tmp_path, registry_file, database_url, path):
    host = build(profiles_settings(tmp_path, registry_file, database_url))
    async with signed_in_client(host, "http://p") as api:
        total = (await api.get(path)).json()["total"]
    await host.db.dispose()
    await host.access.stop()
    return total


async def test_good_rows_are_imported_bad_rows_reported_and_a_rerun_imports_nothing_twice(tmp_path, registry_file, database_url):
    file = tmp_path / "volunteers.csv"
    file.write_text((EXAMPLES / "volunteers.csv").read_text() + "\n".join(BAD_ROWS) + "\n")
    env = _env(tmp_path, registry_file, database_url)

    first = _run(["volunteers", str(file), "--rejected-report", str(tmp_path / "rejected.csv")], env)
    assert first.returncode == 3, first.stdout + first.stderr
    assert "8 rows — 3 imported, 0 already imported, 5 rejected" in first.stdout, first.stdout
    with (tmp_path / "rejected.csv").open(newline="") as report:
        rejected = list(csv.reader(report))
    assert rejected[0] == ["line", "reference", "reason"]
    reasons = {line: reason for line, _reference, reason in rejected[1:]}
    assert reasons["5"].startswith("reference: required")
    assert reasons["6"].startswith("languages (item 2) level: Input should be 'A1'")
    assert reasons["7"].startswith("consent_processing: her consent to the processing of her data is needed")
    assert "country_of_origin: Value error, 'ZZ' is not an ISO 3166-1 alpha-2 country code" in reasons["8"]
    assert "hours_per_week: Input should be a valid integer" in reasons["8"]
    assert reasons["9"] == "willing_to_move: 'maybe' is not yes or no"
    assert await _count(tmp_path, registry_file, database_url, "/volunteers") == 3

    again = _run(["volunteers", str(file)], env)
    assert again.returncode == 3
    assert "8 rows — 0 imported, 3 already imported, 5 rejected" in again.stdout, again.stdout
    assert await _count(tmp_path, registry_file, database_url, "/volunteers") == 3


async def test_opportunities_are_imported_for_the_organisations_of_the_node(tmp_path, registry_file, database_url):
    host = build(profiles_settings(tmp_path, registry_file, database_url))
    await host.db.create_tables(host.metadata)
    async with signed_in_client(host, "http://p") as api:
        assert (await api.post("/organisations", json=organisation())).status_code == 201
    await host.db.dispose()
    await host.access.stop()
    file = tmp_path / "opportunities.csv"
    file.write_text((EXAMPLES / "opportunities.csv").read_text()
                    + "OPP-003,ORG-99,Cook,,,es:B1,ES,,Sevilla,no,20,2027-01-11,,,2\n")
    done = _run(["opportunities", str(file)], _env(tmp_path, registry_file, database_url))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "3 rows — 2 imported, 0 already imported, 1 rejected" in done.stdout
    assert "organisation_reference: no organisation 'ORG-99' on this node" in done.stdout
    assert await _count(tmp_path, registry_file, database_url, "/opportunities?status=open") == 2


@pytest.mark.parametrize(
    "content, message",
    [
        ("name,email\nAmina,a@example.org\n", "missing column(s) available_from, consent_processing, country"),
        (b"reference,given_name\n\xff\xfe\n", "not UTF-8 text"),
    ],
)
def test_a_file_that_cannot_be_imported_at_all_is_a_clear_error(tmp_path, registry_file, content, message):
    file = tmp_path / "volunteers.csv"
    file.write_bytes(content if isinstance(content, bytes) else content.encode())
    done = _run(["volunteers", str(file)], _env(tmp_path, registry_file, f"sqlite+aiosqlite:///{tmp_path}/p.sqlite"))
    assert done.returncode == 2
    assert message in done.stdout, done.stdout


def test_a_missing_file_is_named(tmp_path, registry_file):
    done = _run(["volunteers", str(tmp_path / "nowhere.csv")], _env(tmp_path, registry_file, f"sqlite+aiosqlite:///{tmp_path}/p.sqlite"))
    assert done.returncode == 2 and "nowhere.csv: no such file" in done.stdout

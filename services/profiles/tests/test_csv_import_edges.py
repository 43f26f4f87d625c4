"""CSV import at the edges of what spreadsheets hold: a reference reused for someone else, NUL
characters, a giant cell, line separators and form feeds inside cells, skill codes not in the
taxonomy. Each is a row rejected with its reason (or kept whole), never a traceback or a lost person."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from corridor_profiles.bootstrap import build
from harness.access import signed_in_client
from profiles_support import SEEDS, organisation, profiles_settings

EXAMPLES = Path(__file__).parents[1] / "examples"
COMMAND = [str(Path(sys.executable).parent / "corridor-profiles"), "import"]


def _env(tmp_path, registry_file, database_url) -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "CORRIDOR_NODE_ID": "fr", "CORRIDOR_DATABASE_URL": database_url,
            "CORRIDOR_REGISTRY_FILE": str(registry_file), "CORRIDOR_SIGNING_SEED": SEEDS["fr"].decode(),
            "CORRIDOR_DATA_DIR": str(tmp_path)}


def _run(args, env):
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def _volunteer(**cells: str) -> dict[str, str]:
    """A valid volunteer row (the example file's header), with some cells changed."""
    with (EXAMPLES / "volunteers.csv").open(newline="", encoding="utf-8") as example:
        row = next(csv.DictReader(example))
    return {**row, **cells}


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _rejected(path: Path) -> dict[str, tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as report:
        return {line: (reference, reason) for line, reference, reason in list(csv.reader(report))[1:]}


async def _volunteers(tmp_path, registry_file, database_url) -> list[dict]:
    host = build(profiles_settings(tmp_path, registry_file, database_url))
    async with signed_in_client(host, "http://p") as api:
        items = (await api.get("/volunteers?limit=100")).json()["items"]
    await host.db.dispose()
    await host.access.stop()
    return items


async def test_edge_rows_are_rejected_with_their_reasons_and_nobody_is_lost(tmp_path, registry_file, database_url):
    file = tmp_path / "volunteers.csv"
    _write(file, [
        _volunteer(reference="FR-001", given_name="Amina", family_name="Haddad"),                     # line 2
        _volunteer(reference="FR-001", given_name="Zainab", family_name="Omar",                       # line 3: someone else
                   email="zainab.omar@example.org"),
        _volunteer(reference="FR-010", given_name="Na\x00dia"),                                         # line 4: NUL
        _volunteer(reference="FR-011", free_text_skills="x" * 200_000),                                # line 5: over the csv limit
        _volunteer(reference="FR-012", city="Saint-\u2028Étienne", free_text_skills="couture\x0ctricot",  # line 6: kept whole
                   region="Auvergne\u2029Rhône-Alpes"),
        _volunteer(reference="FR-013", skills="care.elderly-care;care.elderly-cre;cooking.[b]"),      # line 7: unknown codes
        _volunteer(reference="FR-014", given_name="Leila"),                                            # line 8: after all that, fine
    ])
    env = _env(tmp_path, registry_file, database_url)
    report = tmp_path / "rejected.csv"

    first = _run(["volunteers", str(file), "--rejected-report", str(report)], env)
    assert first.returncode == 3, first.stdout + first.stderr
    assert "Traceback" not in first.stdout + first.stderr
    assert "7 rows — 3 imported, 0 already imported, 4 rejected" in first.stdout, first.stdout
    rejected = _rejected(report)
    assert set(rejected) == {"3", "4", "5", "7"}
    assert rejected["3"][0] == "FR-001"
    assert rejected["3"][1].startswith("reference: 'FR-001' is already registered to another person (given_name, "
                                       "family_name, email differ)")
    assert rejected["4"] == ("FR-010", "given_name: text may not contain NUL characters (\\u0000)")
    assert rejected["5"] == ("FR-011", "free_text_skills: 200000 characters, more than a cell may hold (10000)")
    unknown = "skills: 'care.elderly-cre', 'cooking.[b]' are not codes of the corridor's skills taxonomy"
    assert rejected["7"] == ("FR-013", unknown + " (free text goes in free_text_skills)")
    assert "'cooking.[b]'" in first.stdout  # printed as it is, not read as markup

    registered = {v["reference"]: v["details"] for v in await _volunteers(tmp_path, registry_file, database_url)}
    assert set(registered) == {"FR-001", "FR-012", "FR-014"}
    assert registered["FR-001"]["given_name"] == "Amina"
    assert registered["FR-012"]["place"]["city"] == "Saint-\u2028Étienne"
    assert registered["FR-012"]["free_text_skills"] == ["couture\x0ctricot"]

    again = _run(["volunteers", str(file), "--rejected-report", str(report)], env)
    assert again.returncode == 3, again.stdout + again.stderr
    assert "7 rows — 0 imported, 3 already imported, 4 rejected" in again.stdout, again.stdout
    assert _rejected(report)["3"] == rejected["3"]  # still her, still not taken for Amina


async def test_a_row_for_the_same_person_with_her_fields_written_differently_is_already_imported(
        tmp_path, registry_file, database_url):
    file = tmp_path / "volunteers.csv"
    _write(file, [_volunteer(reference="FR-001")])
    env = _env(tmp_path, registry_file, database_url)
    assert _run(["volunteers", str(file)], env).returncode == 0
    row = _volunteer(reference=" FR-001 ")
    _write(file, [{**row, "given_name": f"  {row['given_name']} ", "consent_share_match_profile": "no"}])
    again = _run(["volunteers", str(file)], env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 rows — 0 imported, 1 already imported, 0 rejected" in again.stdout, again.stdout


async def test_an_opportunity_asking_for_an_unknown_skill_code_is_rejected_naming_it(tmp_path, registry_file, database_url):
    host = build(profiles_settings(tmp_path, registry_file, database_url))
    await host.db.create_tables(host.metadata)
    async with signed_in_client(host, "http://p") as api:
        assert (await api.post("/organisations", json=organisation())).status_code == 201
    await host.db.dispose()
    await host.access.stop()
    with (EXAMPLES / "opportunities.csv").open(newline="", encoding="utf-8") as example:
        rows = list(csv.DictReader(example))
    file = tmp_path / "opportunities.csv"
    _write(file, [rows[0], {**rows[1], "reference": "OPP-009", "required_skills": "care.elderly-care:basic;care.nursing-x:basic"}])
    done = _run(["opportunities", str(file)], _env(tmp_path, registry_file, database_url))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "2 rows — 1 imported, 0 already imported, 1 rejected" in done.stdout, done.stdout
    assert "required_skills: 'care.nursing-x' is not a code of the corridor's skills taxonomy" in done.stdout



async def test_quotes_doubled_inside_a_cell_far_into_the_file_are_read_as_quotes(tmp_path, registry_file, database_url):
    file = tmp_path / "volunteers.csv"
    long_but_valid = ";".join(f"{'couture ' * 17}{i}" for i in range(30))  # the first 4 KB hold no quote at all
    _write(file, [_volunteer(reference="FR-001", free_text_skills=long_but_valid),
                  _volunteer(reference="FR-002", given_name="Fatou", city='Saint-Denis "La Plaine", 93')])
    assert len(file.read_text().splitlines()[1]) > 4096 and '"Saint-Denis ""La Plaine"", 93"' in file.read_text()
    done = _run(["volunteers", str(file)], _env(tmp_path, registry_file, database_url))
    assert done.returncode == 0, done.stdout + done.stderr
    registered = {v["reference"]: v["details"] for v in await _volunteers(tmp_path, registry_file, database_url)}
    assert registered["FR-002"]["place"]["city"] == 'Saint-Denis "La Plaine", 93'

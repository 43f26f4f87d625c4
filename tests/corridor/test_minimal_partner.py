"""A partner that does not run this code: examples/minimal_partner.py, written from the protocol
documents with nats-py and PyNaCl only, joins a corridor as host node `be` beside a node of this
project, and a placement goes through: France's volunteer is matched to its opportunity, the
example confirms the request, and receives the contact she consented to disclose."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import nats
import pytest

from corridor_contracts import PartnerNode, Registry, new_node_seed
from corridor_runtime.registry_file import save_registry
from corridor_runtime.streams import provision
from harness.ledger import eventually
from harness.partners import PartnerNodeUnderTest, placement_of

pytestmark = pytest.mark.nats
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "minimal_partner.py"


async def test_a_partner_written_from_the_protocol_documents_hosts_a_placement(tmp_path, corridor_servers):
    _hub, servers = corridor_servers(["fr", "be"])
    seed_file = tmp_path / "be.seed"
    keys = await asyncio.create_subprocess_exec(sys.executable, str(EXAMPLE), "keys", "--seed-file", str(seed_file),
                                                stdout=asyncio.subprocess.PIPE)
    be = json.loads((await asyncio.wait_for(keys.communicate(), timeout=60))[0])
    seeds = {"fr": new_node_seed()}
    fr_entry = PartnerNode.of_seed(seeds["fr"], id="fr", name="Elan Interculturel", country="FR")
    registry = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[fr_entry, PartnerNode(id="be", name="Coopérative Sablon", country="BE", **be)]),
                  registry)  # the registry validates the example's keys (checksums, kinds)
    nc = await nats.connect(servers["fr"].url)
    await provision(nc.jetstream(), "fr", peers=["be"])
    await nc.close()

    partner = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), "run", "--nats-url", servers["be"].url, "--node", "be", "--country", "BE",
        "--seed-file", str(seed_file), "--peer", f"fr:{fr_entry.public_key}:{fr_entry.sealing_key}",
        "--timeout", "150", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    fr = PartnerNodeUnderTest("fr", tmp_path, servers["fr"].url, registry, seeds)
    try:
        await fr.start()
        lucia = (await fr.profiles.post("/volunteers", json={
            "given_name": "Lucía", "family_name": "Pérez", "email": "lucia.perez@example.org",
            "country_of_origin": "VE", "preferred_language": "es",
            "place": {"country": "FR", "region": "Occitanie", "city": "Toulouse", "willing_to_move": True},
            "languages": [{"language": "es", "level": "C2"}, {"language": "fr", "level": "B2"}],
            "skills": ["accounting.bookkeeping"], "availability": {"hours_per_week": 20, "available_from": "2027-01-15"},
            "sector_preferences": ["accounting"],
            "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True}})).json()

        proposal = await eventually(lambda: placement_of(fr, lucia["volunteer_id"], "proposed"), timeout=90)
        assert proposal["host_node"] == "be"
        assert (await fr.matching.post(f"/placements/{proposal['placement_id']}/accept")).status_code == 200
        await eventually(lambda: placement_of(fr, lucia["volunteer_id"], "confirmed"), timeout=90)
        out, err = await asyncio.wait_for(partner.communicate(), timeout=120)
        assert partner.returncode == 0, out.decode() + err.decode()
        assert f"contact for placement {proposal['placement_id']}: lucia.perez@example.org" in out.decode()
    finally:
        if partner.returncode is None:
            partner.kill()
            await partner.wait()
        await fr.stop()

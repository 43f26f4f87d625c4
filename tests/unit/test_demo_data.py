"""The demo's seed data: drawn from the seed, the same for the same seed, and a story matching can tell."""

from __future__ import annotations

from corridor_runtime import demo_data


def test_the_same_seed_draws_the_same_people_and_roles():
    assert demo_data.corridor(7) == demo_data.corridor(7)
    assert demo_data.corridor(7).summary() == demo_data.corridor(7).summary()


def test_another_seed_may_draw_another_corridor():
    summaries = {tuple(demo_data.corridor(seed).summary()) for seed in range(1, 6)}
    assert len(summaries) > 1


def test_each_role_asks_for_a_skill_of_its_own_and_every_node_takes_part():
    for seed in range(1, 30):
        data = demo_data.corridor(seed)
        skills = [o["required_skills"][0]["code"] for offered in data.opportunities.values() for _, o in offered]
        assert len(skills) == len(set(skills)) == 6
        assert len({s.split(".")[0] for s in skills}) == 6, "one branch of the taxonomy per role"
        assert all(data.opportunities[node] and data.volunteers[node] for node in demo_data.NODES)
        # Every role has a candidate who fits it: at least one placement per role to play the story with.
        held = [v["skills"][0] for people in data.volunteers.values() for v in people]
        assert set(skills) <= set(held)

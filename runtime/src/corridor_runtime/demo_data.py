"""The demo corridor's seed data: partners, host organisations, opportunities and volunteers, drawn
from a seed (`corridor demo --seed N`): the same seed gives the same people and the same roles.

Invented people and organisations, varied on purpose: languages at different CEFR levels, skills of
the corridor's sectors, remote roles, women willing to move to another partner's country, a business
host in Spain (the only country whose law allows it), consents given and withheld, and roles with
more candidates than slots, so that matching chooses.

Each role asks for a skill of its own branch of the taxonomy, and its candidates all live on one
node: who could go where does not depend on the order in which events reach the nodes, so the same
seed plays the same story and ends with the same report.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

NODES = {
    "fr": {"name": "Elan Interculturel (demo)", "country": "FR"},
    "es": {"name": "Cámara de Comercio de Sevilla (demo)", "country": "ES"},
    "it": {"name": "MateraHub (demo)", "country": "IT"},
}
LANGUAGE = {"fr": "fr", "es": "es", "it": "it"}
LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")
DEFAULT_SEED = 1


def _place(country, region, city, **more):
    return {"country": country, "region": region, "city": city, **more}


CITY = {"fr": _place("FR", "Auvergne-Rhône-Alpes", "Lyon"), "es": _place("ES", "Andalucía", "Sevilla"),
        "it": _place("IT", "Basilicata", "Matera")}


@dataclass(frozen=True)
class Role:
    """A kind of volunteering role, asking for one skill (each role's skill in a branch of its own)."""

    skill: str
    sector: str
    titles: dict[str, str]
    remote: bool = False
    business: bool = False  # hosted by a company where the law allows it (Spain)


ROLES = (
    Role("care.elderly-care", "care", {"fr": "Accompagnement de résidents âgés", "es": "Compañía a personas mayores",
                                       "it": "Compagnia agli anziani"}),
    Role("crafts.sewing", "crafts", {"fr": "Atelier de couture solidaire", "es": "Taller de costura",
                                     "it": "Laboratorio di sartoria"}),
    Role("hospitality.cooking", "hospitality", {"fr": "Cuisine d'une épicerie solidaire", "es": "Cocina de un comedor social",
                                                "it": "Cucina della mensa solidale"}),
    Role("translation.community-interpreting", "translation_mediation",
         {"fr": "Interprétariat en milieu social", "es": "Línea de apoyo en árabe", "it": "Interpretariato sociale"},
         remote=True),
    Role("retail.sales", "retail", {"fr": "Vente en boutique solidaire", "es": "Dependienta en tienda de barrio",
                                    "it": "Vendita nella bottega equa"}, business=True),
    Role("agriculture.gardening", "agriculture", {"fr": "Jardin partagé", "es": "Huerto urbano", "it": "Orto sociale"}),
    Role("it.it-support", "it_digital", {"fr": "Assistance informatique", "es": "Soporte informático",
                                         "it": "Assistenza informatica"}, remote=True),
    Role("community.outreach", "community_work", {"fr": "Accueil des nouvelles arrivantes", "es": "Acogida de recién llegadas",
                                                  "it": "Accoglienza delle nuove arrivate"}),
)

# (given name, family name, country of origin, first language)
PEOPLE = (
    ("Amina", "Haddad", "SY", "ar"), ("Fatou", "Diallo", "SN", "wo"), ("Nour", "Khalil", "LB", "ar"),
    ("Lucía", "Pérez", "VE", "es"), ("Oksana", "Melnyk", "UA", "uk"), ("Samira", "Benali", "MA", "ar"),
    ("Gloria", "Mendoza", "CO", "es"), ("Senait", "Tesfaye", "ER", "ti"), ("Mariam", "Ahmadi", "AF", "fa"),
    ("Aisha", "Bello", "NG", "en"), ("Hawa", "Kamara", "SL", "en"), ("Leila", "Rahimi", "IR", "fa"),
    ("Yasmin", "Osman", "SD", "ar"), ("Rosa", "Quispe", "PE", "es"), ("Tigist", "Alemu", "ET", "am"),
    ("Zainab", "Hussein", "IQ", "ar"), ("Marie", "Nkemelu", "CM", "fr"), ("Khadija", "Mansour", "TN", "ar"),
    ("Olena", "Kovalenko", "UA", "uk"), ("Priya", "Nair", "IN", "en"), ("Halima", "Yusuf", "SO", "so"),
    ("Farida", "Sadiq", "PK", "ur"),
)

ORGANISATIONS = {  # per node: an NGO, and for Spain a business as well
    "fr": {"ngo": ("Solidarités Croix-Rousse", "Claire Martin", "claire.martin@solidarites.example.fr")},
    "es": {"ngo": ("Fundación Abrazo", "Lucía Romero", "lucia@abrazo.example.es"),
           "business": ("Comercios Giralda", "Carmen Ruiz", "carmen@giralda.example.es")},
    "it": {"ngo": ("Cooperativa Sociale Sassi", "Giulia Conti", "giulia@sassi.example.it")},
}
START_DATES = ("2027-01-11", "2027-01-18", "2027-01-25", "2027-02-01")


def _volunteer(reference, given, family, origin, language, place, languages, skills, *, hours=12, share=True,
               disclose=True, sectors=()):
    return {"reference": reference, "given_name": given, "family_name": family,
            "email": f"{given.lower()}.{family.lower()}@example.org".replace(" ", ""), "country_of_origin": origin,
            "preferred_language": language, "place": place, "languages": [{"language": l, "level": v} for l, v in languages],
            "skills": skills, "availability": {"hours_per_week": hours, "available_from": "2027-01-04"},
            "sector_preferences": list(sectors),
            "consents": {"processing": True, "share_match_profile": share, "disclose_contact": disclose}}


def _organisation(node: str, kind: str) -> dict:
    name, contact, email = ORGANISATIONS[node][kind]
    return {"reference": f"{node.upper()}-ORG-{kind.upper()}", "name": name, "kind": kind,
            "sector": "retail" if kind == "business" else "community_work", "country": NODES[node]["country"],
            "city": CITY[node]["city"], "contact": {"name": contact, "email": email, "preferred_language": LANGUAGE[node]}}


@dataclass(frozen=True)
class DemoCorridor:
    seed: int
    organisations: dict[str, list[dict]]
    opportunities: dict[str, list[tuple[str, dict]]]  # host node → (organisation reference, opportunity)
    volunteers: dict[str, list[dict]]  # home node → volunteers
    decline_pick: int  # which proposal (in the order of her reference) the volunteer declines

    def summary(self) -> list[str]:
        """What was seeded, one line per node: the same for the same seed."""
        lines = []
        for node in NODES:
            roles = "; ".join(f"{o['reference']} {o['title']} ({o['slots_total']} slot{'s' if o['slots_total'] > 1 else ''})" for _, o in self.opportunities[node])
            people = ", ".join(f"{v['reference']} {v['given_name']} {v['family_name']}" for v in self.volunteers[node])
            lines.append(f"{node}: opportunities {roles or 'none'} · volunteers {people or 'none'}")
        return lines


def corridor(seed: int = DEFAULT_SEED) -> DemoCorridor:
    """The demo's people and roles for `seed`."""
    rng = random.Random(seed)
    people = iter(rng.sample(PEOPLE, len(PEOPLE)))
    roles = rng.sample(ROLES, 6)
    hosts = [node for node in NODES for _ in range(2)]  # two roles offered on each node ...
    homes = list(hosts)  # ... and the candidates of two roles living on each
    rng.shuffle(hosts)
    rng.shuffle(homes)
    organisations: dict[str, dict[str, dict]] = {node: {} for node in NODES}
    opportunities: dict[str, list[tuple[str, dict]]] = {node: [] for node in NODES}
    volunteers: dict[str, list[dict]] = {node: [] for node in NODES}

    def new_volunteer(home: str, host: str, *, languages: list[tuple[str, str]], **fields) -> None:
        """The next person, living on `home`'s side, writing to her in the language of the role's host."""
        given, family, origin, native = next(people)
        spoken = {language for language, _ in languages}
        languages = ([(native, "C2")] if native not in spoken else []) + languages
        reference = f"{home.upper()}-V{len(volunteers[home]) + 1}"
        volunteers[home].append(_volunteer(reference, given, family, origin, LANGUAGE[host], languages=languages, **fields))

    for role, host, home in zip(roles, hosts, homes):
        kind = "business" if role.business and host == "es" else "ngo"
        organisation = organisations[host].setdefault(kind, _organisation(host, kind))
        required = rng.choice(("A2", "B1", "B2"))
        slots = rng.randint(1, 3)
        hours = rng.choice((4, 6, 8, 10))
        place = {**CITY[host], **({"remote": True} if role.remote else {})}
        reference = f"{host.upper()}-OPP-{len(opportunities[host]) + 1}"
        opportunities[host].append((organisation["reference"], {
            "reference": reference, "title": role.titles[host], "required_skills": [{"code": role.skill}],
            "languages": [{"language": LANGUAGE[host], "level": required}], "place": place, "hours_per_week": hours,
            "starts_on": rng.choice(START_DATES), "slots_total": slots}))
        # Its candidates live on one node: the host's own, or another partner's (then willing to move, or remote).
        cross_border = home != host
        sectors = [role.sector] if rng.random() < 0.5 else []
        # Levels one apart, so no two candidates fit equally well (language fit tells them apart).
        first = LEVELS.index(required)
        levels = rng.sample(LEVELS[first:first + 3], k=min(3, rng.randint(1, slots + 1)))
        for level in levels:
            own = {**CITY[home], **({"willing_to_move": True} if cross_border and not role.remote else {})}
            given_languages = [(LANGUAGE[host], level)] + ([("en", rng.choice(("A2", "B1", "B2")))] if rng.random() < 0.4 else [])
            if LANGUAGE[home] != LANGUAGE[host]:
                given_languages.append((LANGUAGE[home], rng.choice(("A2", "B1", "B2"))))
            new_volunteer(home, host, place=own, languages=given_languages, skills=[role.skill], hours=hours + rng.choice((0, 2, 4)),
                          share=cross_border or rng.random() < 0.7, sectors=sectors)
    # Two who are matched with nothing: one withholds her consent to share her profile across the
    # corridor (so a role abroad never sees her), one speaks the host's language below what it asks.
    offered = [(o, host) for host in NODES for _, o in opportunities[host]]
    opportunity, host = rng.choice(offered)
    home = rng.choice([n for n in NODES if n != host])
    new_volunteer(home, host, place={**CITY[home], "willing_to_move": True}, languages=[(LANGUAGE[host], "C1")],
                  skills=[opportunity["required_skills"][0]["code"]], hours=20, share=False)
    opportunity, host = rng.choice(offered)
    below = LEVELS[LEVELS.index(opportunity["languages"][0]["level"]) - 1]
    new_volunteer(host, host, place=dict(CITY[host]), languages=[(LANGUAGE[host], below)],
                  skills=[opportunity["required_skills"][0]["code"]], hours=20)
    return DemoCorridor(seed=seed, organisations={n: list(o.values()) for n, o in organisations.items()},
                        opportunities=opportunities, volunteers=volunteers, decline_pick=rng.randrange(1000))

"""The demo corridor's seed data: partners, host organisations, opportunities and volunteers.

Invented people and organisations, varied on purpose: languages at different CEFR levels, skills of
the corridor's sectors, remote roles, someone willing to move, a business host in Spain (the only
country whose law allows it), consents given and withheld.
"""

from __future__ import annotations

NODES = {
    "fr": {"name": "Elan Interculturel (demo)", "country": "FR"},
    "es": {"name": "Cámara de Comercio de Sevilla (demo)", "country": "ES"},
    "it": {"name": "MateraHub (demo)", "country": "IT"},
}


def _place(country, region, city, **more):
    return {"country": country, "region": region, "city": city, **more}


ORGANISATIONS = {
    "fr": [{"reference": "FR-ORG-1", "name": "Maison des aînés de la Croix-Rousse", "kind": "ngo", "sector": "care",
            "country": "FR", "city": "Lyon",
            "contact": {"name": "Claire Martin", "email": "claire.martin@aines.example.fr", "preferred_language": "fr"}}],
    "es": [{"reference": "ES-ORG-1", "name": "Fundación Abrazo", "kind": "ngo", "sector": "care", "country": "ES",
            "city": "Sevilla", "contact": {"name": "Lucía Romero", "email": "lucia@abrazo.example.es", "preferred_language": "es"}},
           {"reference": "ES-ORG-2", "name": "Asesoría Giralda", "kind": "business", "sector": "accounting", "country": "ES",
            "city": "Sevilla", "contact": {"name": "Carmen Ruiz", "email": "carmen@giralda.example.es", "preferred_language": "es"}}],
    "it": [{"reference": "IT-ORG-1", "name": "Sartoria Sociale Sassi", "kind": "ngo", "sector": "crafts", "country": "IT",
            "city": "Matera", "contact": {"name": "Giulia Conti", "email": "giulia@sartoria.example.it", "preferred_language": "it"}}],
}

OPPORTUNITIES = {
    "fr": [("FR-ORG-1", {"reference": "FR-OPP-1", "title": "Accompagnement de résidents âgés", "required_skills": [{"code": "care.elderly-care"}],
                         "languages": [{"language": "fr", "level": "B1"}], "place": _place("FR", "Auvergne-Rhône-Alpes", "Lyon"),
                         "hours_per_week": 8, "starts_on": "2027-01-11", "slots_total": 2}),
           ("FR-ORG-1", {"reference": "FR-OPP-2", "title": "Animation d'ateliers numériques", "required_skills": [{"code": "transversal"}],
                         "languages": [{"language": "fr", "level": "A2"}], "place": _place("FR", "Auvergne-Rhône-Alpes", "Lyon", remote=True),
                         "hours_per_week": 4, "starts_on": "2027-01-18", "slots_total": 1})],
    "es": [("ES-ORG-1", {"reference": "ES-OPP-1", "title": "Compañía a personas mayores", "required_skills": [{"code": "care.elderly-care"}],
                         "languages": [{"language": "es", "level": "B1"}], "place": _place("ES", "Andalucía", "Sevilla"),
                         "hours_per_week": 10, "starts_on": "2027-01-11", "slots_total": 2}),
           ("ES-ORG-2", {"reference": "ES-OPP-2", "title": "Auxiliar contable", "required_skills": [{"code": "accounting.bookkeeping"}],
                         "languages": [{"language": "es", "level": "B2"}], "place": _place("ES", "Andalucía", "Sevilla"),
                         "hours_per_week": 12, "starts_on": "2027-02-01", "slots_total": 1}),
           ("ES-ORG-1", {"reference": "ES-OPP-3", "title": "Línea de apoyo en árabe", "required_skills": [{"code": "translation.community-interpreting"}],
                         "languages": [{"language": "ar", "level": "B2"}], "place": _place("ES", "Andalucía", "Sevilla", remote=True),
                         "hours_per_week": 4, "starts_on": "2027-01-15", "slots_total": 2})],
    "it": [("IT-ORG-1", {"reference": "IT-OPP-1", "title": "Laboratorio di sartoria", "required_skills": [{"code": "crafts.sewing"}],
                         "languages": [{"language": "it", "level": "A2"}], "place": _place("IT", "Basilicata", "Matera"),
                         "hours_per_week": 6, "starts_on": "2027-01-20", "slots_total": 2})],
}


def _volunteer(reference, given, family, origin, language, place, languages, skills, *, hours=12, share=True,
               disclose=True, sectors=()):
    return {"reference": reference, "given_name": given, "family_name": family,
            "email": f"{given.lower()}.{family.lower()}@example.org".replace(" ", ""), "country_of_origin": origin,
            "preferred_language": language, "place": place, "languages": [{"language": l, "level": v} for l, v in languages],
            "skills": skills, "availability": {"hours_per_week": hours, "available_from": "2027-01-04"},
            "sector_preferences": list(sectors),
            "consents": {"processing": True, "share_match_profile": share, "disclose_contact": disclose}}


LYON = _place("FR", "Auvergne-Rhône-Alpes", "Lyon")
SEVILLA = _place("ES", "Andalucía", "Sevilla")
MATERA = _place("IT", "Basilicata", "Matera")

VOLUNTEERS = {
    "fr": [
        _volunteer("FR-V1", "Amina", "Haddad", "SY", "fr", LYON, [("ar", "C2"), ("fr", "B2")], ["care.elderly-care"], sectors=["care"]),
        _volunteer("FR-V2", "Fatou", "Diallo", "SN", "fr", LYON, [("wo", "C2"), ("fr", "C1")], ["transversal.digital-literacy"]),
        _volunteer("FR-V3", "Nour", "Khalil", "LB", "fr", {**LYON, "remote_only": True}, [("ar", "C2"), ("fr", "B2"), ("en", "B1")],
                   ["translation.community-interpreting"], sectors=["translation_mediation"]),
        _volunteer("FR-V4", "Lucía", "Pérez", "VE", "es", {**LYON, "willing_to_move": True}, [("es", "C2"), ("fr", "B1")],
                   ["accounting.bookkeeping"], sectors=["accounting"]),
        _volunteer("FR-V5", "Oksana", "Melnyk", "UA", "en", LYON, [("uk", "C2"), ("fr", "A2"), ("en", "B2")], ["care.elderly-care"],
                   share=False),
    ],
    "es": [
        _volunteer("ES-V1", "Samira", "Benali", "MA", "es", SEVILLA, [("ar", "C2"), ("es", "B2"), ("fr", "B1")], ["care.elderly-care"]),
        _volunteer("ES-V2", "Gloria", "Mendoza", "CO", "es", SEVILLA, [("es", "C2")], ["care.elderly-care"], sectors=["care"]),
    ],
    "it": [
        _volunteer("IT-V1", "Senait", "Tesfaye", "ER", "it", MATERA, [("ti", "C2"), ("it", "B1"), ("ar", "B2")], ["crafts.sewing"]),
        _volunteer("IT-V2", "Mariam", "Ahmadi", "AF", "it", MATERA, [("fa", "C2"), ("it", "A2")], ["crafts.sewing"], sectors=["crafts"]),
    ],
}

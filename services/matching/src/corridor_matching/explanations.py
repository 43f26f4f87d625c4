"""A proposal's reasons as sentences an operator reads in the volunteer's language (en, fr, es, it, el).

Reasons travel as codes with figures (MatchReason); each node renders them in its own languages, with
the taxonomy's label of each skill and the language's own name.
"""

from __future__ import annotations

import gettext
from functools import cache

import pycountry

from corridor_contracts.values import MatchSummary

from .taxonomy import Taxonomy

TEMPLATES: dict[str, dict[str, str]] = {
    "skill_covered": {"en": "Has the skill asked for: {skill}", "fr": "A la compétence demandée : {skill}",
                      "es": "Tiene la competencia solicitada: {skill}", "it": "Ha la competenza richiesta: {skill}",
                      "el": "Διαθέτει τη δεξιότητα που ζητείται: {skill}"},
    "skill_related": {"en": "Has a skill close to the one asked for: {skill}",
                      "fr": "A une compétence proche de celle demandée : {skill}",
                      "es": "Tiene una competencia cercana a la solicitada: {skill}",
                      "it": "Ha una competenza vicina a quella richiesta: {skill}",
                      "el": "Διαθέτει δεξιότητα κοντινή σε αυτή που ζητείται: {skill}"},
    "language_fit": {"en": "Speaks {language} at the level required", "fr": "Parle {language} au niveau requis",
                     "es": "Habla {language} al nivel requerido", "it": "Parla {language} al livello richiesto",
                     "el": "Μιλά {language} στο απαιτούμενο επίπεδο"},
    "same_city": {"en": "Lives in the same city", "fr": "Habite la même ville", "es": "Vive en la misma ciudad",
                  "it": "Vive nella stessa città", "el": "Μένει στην ίδια πόλη"},
    "same_region": {"en": "Lives in the same region", "fr": "Habite la même région", "es": "Vive en la misma región",
                    "it": "Vive nella stessa regione", "el": "Μένει στην ίδια περιφέρεια"},
    "same_country": {"en": "Lives in the same country", "fr": "Habite le même pays", "es": "Vive en el mismo país",
                     "it": "Vive nello stesso paese", "el": "Μένει στην ίδια χώρα"},
    "remote": {"en": "Can be done remotely", "fr": "Peut se faire à distance", "es": "Se puede hacer a distancia",
               "it": "Si può svolgere a distanza", "el": "Μπορεί να γίνει εξ αποστάσεως"},
    "willing_to_move": {"en": "Is willing to move for it", "fr": "Est prête à se déplacer pour cela",
                        "es": "Está dispuesta a trasladarse", "it": "È disposta a trasferirsi",
                        "el": "Είναι πρόθυμη να μετακινηθεί"},
    "sector_preferred": {"en": "In a sector she prefers", "fr": "Dans un secteur qu'elle préfère",
                         "es": "En un sector que prefiere", "it": "In un settore che preferisce",
                         "el": "Σε τομέα που προτιμά"},
    "waiting_time": {"en": "Has been waiting for a placement for a while", "fr": "Attend une mission depuis un moment",
                     "es": "Lleva un tiempo esperando una plaza", "it": "Aspetta un inserimento da un po'",
                     "el": "Περιμένει θέση εδώ και καιρό"},
    "trains_newcomers": {"en": "Does not have this skill yet; the host will teach it: {skill}",
                         "fr": "N'a pas encore cette compétence ; l'organisation la lui apprendra : {skill}",
                         "es": "Aún no tiene esta competencia; la organización se la enseñará: {skill}",
                         "it": "Non ha ancora questa competenza; l'organizzazione gliela insegnerà: {skill}",
                         "el": "Δεν έχει ακόμη αυτή τη δεξιότητα· ο φορέας θα της τη διδάξει: {skill}"},
}
# The same reasons addressed to her, in the register of the letters (vous, usted, Lei, εσείς): the
# proposal she receives says "you", while her operator reads "she".
TO_HER: dict[str, dict[str, str]] = {
    "skill_covered": {"en": "You have the skill asked for: {skill}", "fr": "Vous avez la compétence demandée : {skill}",
                      "es": "Usted tiene la competencia solicitada: {skill}", "it": "Lei ha la competenza richiesta: {skill}",
                      "el": "Διαθέτετε τη δεξιότητα που ζητείται: {skill}"},
    "skill_related": {"en": "You have a skill close to the one asked for: {skill}",
                      "fr": "Vous avez une compétence proche de celle demandée : {skill}",
                      "es": "Usted tiene una competencia cercana a la solicitada: {skill}",
                      "it": "Lei ha una competenza vicina a quella richiesta: {skill}",
                      "el": "Διαθέτετε δεξιότητα κοντινή σε αυτή που ζητείται: {skill}"},
    "language_fit": {"en": "You speak {language} at the level required", "fr": "Vous parlez {language} au niveau requis",
                     "es": "Usted habla {language} al nivel requerido", "it": "Lei parla {language} al livello richiesto",
                     "el": "Μιλάτε {language} στο απαιτούμενο επίπεδο"},
    "same_city": {"en": "You live in the same city", "fr": "Vous habitez la même ville", "es": "Usted vive en la misma ciudad",
                  "it": "Lei vive nella stessa città", "el": "Μένετε στην ίδια πόλη"},
    "same_region": {"en": "You live in the same region", "fr": "Vous habitez la même région",
                    "es": "Usted vive en la misma región", "it": "Lei vive nella stessa regione",
                    "el": "Μένετε στην ίδια περιφέρεια"},
    "same_country": {"en": "You live in the same country", "fr": "Vous habitez le même pays",
                     "es": "Usted vive en el mismo país", "it": "Lei vive nello stesso paese", "el": "Μένετε στην ίδια χώρα"},
    "remote": TEMPLATES["remote"],
    "willing_to_move": {"en": "You are willing to move for it", "fr": "Vous êtes prête à vous déplacer pour cela",
                        "es": "Usted está dispuesta a trasladarse", "it": "Lei è disposta a trasferirsi",
                        "el": "Είστε πρόθυμη να μετακινηθείτε"},
    "sector_preferred": {"en": "In a sector you prefer", "fr": "Dans un secteur que vous préférez",
                         "es": "En un sector que usted prefiere", "it": "In un settore che lei preferisce",
                         "el": "Σε τομέα που προτιμάτε"},
    "waiting_time": {"en": "You have been waiting for a placement for a while", "fr": "Vous attendez une mission depuis un moment",
                     "es": "Usted lleva un tiempo esperando una plaza", "it": "Lei aspetta un inserimento da un po'",
                     "el": "Περιμένετε θέση εδώ και καιρό"},
    "trains_newcomers": {"en": "You do not need this skill yet; the host will teach it: {skill}",
                         "fr": "Cette compétence n'est pas encore nécessaire ; l'organisation vous l'apprendra : {skill}",
                         "es": "Aún no necesita esta competencia; la organización se la enseñará: {skill}",
                         "it": "Non le serve ancora questa competenza; l'organizzazione gliela insegnerà: {skill}",
                         "el": "Δεν χρειάζεστε ακόμη αυτή τη δεξιότητα· ο φορέας θα σας τη διδάξει: {skill}"},
}
SUPPORTED = ("en", "fr", "es", "it", "el")


@cache
def _translator(in_language: str) -> gettext.NullTranslations:
    return gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=[in_language], fallback=True)


def language_name(code: str, in_language: str) -> str:
    """The language's name in another language (pycountry's ISO 639 translations), lower-cased as
    the Romance languages write it in a sentence."""
    found = pycountry.languages.get(alpha_2=code)
    if found is None:
        return code
    name = _translator(in_language).gettext(found.name)
    return name if in_language in ("en", "el") else name.lower()


def explain(match: MatchSummary, *, language: str, taxonomy: Taxonomy, to_her: bool = False) -> list[str]:
    """The reasons as sentences: about her, for her operator; or, `to_her`, addressed to her."""
    lang = language if language in SUPPORTED else "en"
    lines = []
    for reason in match.reasons:
        template = (TO_HER if to_her else TEMPLATES).get(reason.code, {}).get(lang)
        if template is None:
            continue
        skill = taxonomy.skills[reason.skill].label(lang) if reason.skill and reason.skill in taxonomy.skills else reason.skill
        lines.append(template.format(skill=skill, language=language_name(reason.language or "", lang)))
    return lines

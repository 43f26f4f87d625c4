"""The corridor's skills taxonomy (data/skills.json), modelled on ESCO.

Each skill has a stable code, broader/narrower links and labels in en, fr, es, it and el. Matching
gives partial credit through the links, and maps free-text skills typed by operators to codes by
fuzzy matching on every label and synonym (rapidfuzz).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rapidfuzz import fuzz, process, utils


@dataclass(frozen=True)
class Skill:
    code: str
    broader: tuple[str, ...]
    labels: dict[str, str]
    alt_labels: dict[str, tuple[str, ...]]
    esco_uri: str | None = None

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels["en"]


def _fold(text: str) -> str:
    """Lower case without accents, so 'garde d’enfants' finds 'Garde d'enfants'."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    return utils.default_process("".join(c for c in decomposed if not unicodedata.combining(c)))


class Taxonomy:
    def __init__(self, skills: list[Skill]) -> None:
        self.skills = {s.code: s for s in skills}
        self.narrower: dict[str, set[str]] = {code: set() for code in self.skills}
        for skill in skills:
            for parent in skill.broader:
                if parent not in self.skills:
                    raise ValueError(f"{skill.code}: broader skill {parent} is not in the taxonomy")
                self.narrower[parent].add(skill.code)
        self._ancestors = {code: self._walk(code, lambda c: self.skills[c].broader) for code in self.skills}
        self._descendants = {code: self._walk(code, lambda c: self.narrower[c]) for code in self.skills}
        self._choices: list[str] = []
        self._codes: list[str] = []
        for skill in skills:
            for language, label in skill.labels.items():
                self._add_choice(label, skill.code)
            for labels in skill.alt_labels.values():
                for label in labels:
                    self._add_choice(label, skill.code)

    def _add_choice(self, label: str, code: str) -> None:
        self._choices.append(_fold(label))
        self._codes.append(code)

    @staticmethod
    def _walk(start: str, step) -> frozenset[str]:
        seen: set[str] = set()
        todo = list(step(start))
        while todo:
            code = todo.pop()
            if code not in seen:
                seen.add(code)
                todo.extend(step(code))
        return frozenset(seen)

    def __contains__(self, code: str) -> bool:
        return code in self.skills

    def __len__(self) -> int:
        return len(self.skills)

    def ancestors(self, code: str) -> frozenset[str]:
        return self._ancestors.get(code, frozenset())

    def descendants(self, code: str) -> frozenset[str]:
        return self._descendants.get(code, frozenset())

    def related(self, code: str) -> frozenset[str]:
        """Every code that earns credit toward `code`: itself, narrower, broader, and siblings."""
        siblings = {s for parent in self.skills[code].broader for s in self.narrower[parent]} if code in self.skills else set()
        return frozenset({code} | self.descendants(code) | self.ancestors(code) | siblings)

    def credit(self, required: str, held: frozenset[str]) -> tuple[float, str | None]:
        """How well the skills she holds cover one required skill: (credit 0..1, the skill that earns it).

        Exact or more specific (narrower): 1.0; more general (broader): 0.5; a sibling: 0.3.
        """
        if required in held:
            return 1.0, required
        narrower = self.descendants(required) & held
        if narrower:
            return 1.0, min(narrower)
        broader = self.ancestors(required) & held
        if broader:
            return 0.5, min(broader)
        if required in self.skills:
            siblings = {s for p in self.skills[required].broader for s in self.narrower[p]} & held
            if siblings:
                return 0.3, min(siblings)
        return 0.0, None

    def code_for(self, text: str, *, threshold: float = 85.0) -> str | None:
        """The skill a free-text entry names, in any of the taxonomy's languages, or None."""
        query = _fold(text)
        if not query:
            return None
        found = process.extractOne(query, self._choices, scorer=fuzz.WRatio, score_cutoff=threshold)
        return self._codes[found[2]] if found else None


def from_data(data: dict) -> Taxonomy:
    return Taxonomy([
        Skill(code=s["code"], broader=tuple(s.get("broader", [])), labels=dict(s["labels"]),
              alt_labels={k: tuple(v) for k, v in (s.get("alt_labels") or {}).items()}, esco_uri=s.get("esco_uri"))
        for s in data["skills"]
    ])


@cache
def bundled() -> Taxonomy:
    return from_data(json.loads(resources.files(__package__).joinpath("data/skills.json").read_text(encoding="utf-8")))

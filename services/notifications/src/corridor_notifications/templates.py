"""Message templates per kind and language (templates/<kind>.<lang>.j2, blocks subject/text/html),
with a fallback to English. HTML is autoescaped; subject and text are not."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import jinja2
from babel import Locale, UnknownLocaleError

FALLBACK = "en"


@cache
def language_name(code: str, in_language: str) -> str:
    """A language's name in the message's language, as the Unicode CLDR writes it (Babel)."""
    try:
        return Locale.parse(in_language).languages.get(code, code)
    except (ValueError, UnknownLocaleError):
        return code


@jinja2.pass_context
def _language_name(context, code: str) -> str:
    return language_name(code, context["message_language"])


@dataclass(frozen=True)
class Rendered:
    language: str
    subject: str
    text: str
    html: str


class Templates:
    def __init__(self) -> None:
        loader = jinja2.PackageLoader("corridor_notifications", "templates")
        self._plain = jinja2.Environment(loader=loader, autoescape=False, undefined=jinja2.StrictUndefined,
                                         keep_trailing_newline=False)
        self._html = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
        for environment in (self._plain, self._html):
            environment.filters["language_name"] = _language_name  # {{ code | language_name }}

    def language_for(self, kind: str, language: str) -> str:
        try:
            self._plain.get_template(f"{kind}.{language}.j2")
            return language
        except jinja2.TemplateNotFound:
            return FALLBACK

    def render(self, kind: str, language: str, context: dict) -> Rendered:
        language = self.language_for(kind, language)
        name = f"{kind}.{language}.j2"
        context = {**context, "message_language": language}

        def block(environment: jinja2.Environment, block_name: str) -> str:
            template = environment.get_template(name)
            return "".join(template.blocks[block_name](template.new_context(context))).strip()

        subject = " ".join(block(self._plain, "subject").split())
        return Rendered(language=language, subject=subject[:300], text=block(self._plain, "text") + "\n",
                        html=block(self._html, "html"))

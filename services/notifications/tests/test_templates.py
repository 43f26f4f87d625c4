"""Every message kind renders in every language, from the context the service gives it."""

from __future__ import annotations

import pytest

from corridor_notifications.templates import Templates

LANGUAGES = ("en", "fr", "es", "it", "el")
CONTEXTS = {
    "proposal": {"opportunity_title": "Companion", "organisation_name": "Abrazo", "place": "Sevilla", "remote": False,
                 "starts_on": "2027-01-11", "hours_per_week": 10, "reasons": ["reason one", "reason two"], "expires_on": "2026-12-01"},
    "confirmed": {"opportunity_title": "Companion", "organisation_name": "Abrazo", "starts_on": "2027-01-11", "contact_shared": False},
    "declined": {"opportunity_title": "Companion", "reason": "full"},
    "withdrawn": {"opportunity_title": "Companion", "by": "host"},
    "started": {"opportunity_title": "Companion", "started_on": "2027-01-11"},
    "completed": {"opportunity_title": "Companion", "completed_on": "2027-06-30", "total_hours": "212.50", "skills": ["Care"]},
    "host_contact": {"opportunity_title": "Companion", "volunteer_name": "Amina Haddad", "volunteer_email": "a@example.org",
                     "volunteer_phone": "", "volunteer_language": "French"},
    "reminder": {"opportunity_title": "Companion", "expires_on": "2026-12-01"},
    "digest": {"placements": [{"opportunity_title": "Companion", "status": "confirmed", "since": "2026-11-20"}]},
    "expired": {"opportunity_title": "Companion", "organisation_name": "Abrazo", "stage": "request"},
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(CONTEXTS))
def test_each_kind_renders_in_each_language(kind, language):
    rendered = Templates().render(kind, language, {**CONTEXTS[kind], "recipient_name": "Amina <b>", "node_name": "Elan"})
    assert rendered.language == language
    assert rendered.subject and "\n" not in rendered.subject
    assert "Amina <b>" in rendered.text and "Elan" in rendered.text
    assert "Amina &lt;b&gt;" in rendered.html and "<b>" not in rendered.html  # escaped in HTML only


def test_an_unknown_language_falls_back_to_english():
    rendered = Templates().render("reminder", "sw", {**CONTEXTS["reminder"], "recipient_name": "Amina", "node_name": "Elan"})
    assert rendered.language == "en"

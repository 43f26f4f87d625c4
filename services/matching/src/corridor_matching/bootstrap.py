"""Wires the matching service: read models, the home side of the saga, rounds and the HTTP API."""

from __future__ import annotations


from corridor_runtime.consumer import Subscription
from corridor_runtime.registry_file import ConfigError
from corridor_runtime.service import ServiceHost
from corridor_runtime.settings import NodeSettings
from corridor_runtime.unit_of_work import Incoming, UnitOfWork

from . import erasure, read_models, rules, saga, taxonomy
from .api import create_app
from .rounds import Rounds
from .tables import metadata

SERVICE = "matching"


def build(settings: NodeSettings | None = None, *, deadlines: saga.Deadlines | None = None,
          round_every: float = 60.0) -> ServiceHost:
    settings = (settings or NodeSettings(service=SERVICE)).model_copy(update={"service": SERVICE})
    secret = settings.pseudonym_key()
    if secret is None:
        raise ConfigError("the matching service needs the node's pseudonym secret: set CORRIDOR_PSEUDONYM_SECRET_FILE")
    deadlines = deadlines or saga.Deadlines()
    host = ServiceHost(settings, metadata=metadata)
    rounds = Rounds(host, taxonomy=taxonomy.bundled(), rules=rules.bundled(), deadlines=deadlines, every=round_every)
    answers = saga.HostAnswers(secret)
    erasures = erasure.Erasures(secret, host)
    host.add_loop("erasure-requests", erasures.ask_again_forever)

    async def on_volunteer_erased(uow: UnitOfWork, incoming: Incoming) -> None:
        await read_models.on_volunteer_erased(uow, incoming)
        await erasures.on_volunteer_erased(uow, incoming)

    def then_round(handler):
        async def handle(uow: UnitOfWork, incoming: Incoming) -> None:
            await handler(uow, incoming)
            uow.after_commit(rounds.wake)  # the round must see what this event changed
        return handle

    host.subscriptions = [
        Subscription("matching-local", "LOCAL", {
            "VolunteerRegistered": then_round(read_models.on_volunteer_profile),
            "VolunteerUpdated": then_round(read_models.on_volunteer_profile),
            "VolunteerConsentChanged": then_round(read_models.on_consent_changed),
            "VolunteerErased": on_volunteer_erased,
        }),
        Subscription("matching-corridor", "IN", {
            "OpportunityPublished": then_round(read_models.on_opportunity),
            "OpportunityUpdated": then_round(read_models.on_opportunity),
            "OpportunityClosed": then_round(read_models.on_opportunity),
            "PlacementConfirmed": answers.on_confirmed,
            "PlacementDeclined": then_round(answers.on_declined),
            "PlacementStarted": answers.on_started,
            "HoursLogged": answers.on_hours,
            "PlacementCompleted": answers.on_completed,
            "PlacementWithdrawn": then_round(answers.on_withdrawn),
            "ErasureCompleted": erasures.on_erasure_completed,
        }),
    ]
    host.add_loop("rounds", rounds.run_forever)
    host.http_app = create_app(host, rounds=rounds, secret=secret, deadlines=deadlines)
    return host



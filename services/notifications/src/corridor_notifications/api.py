"""The operators' HTTP API of notifications: the delivery log, and retrying a failed message."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import func, select, update

from corridor_runtime.access import Audit, Role, audited
from corridor_runtime.service import ServiceHost

from .dispatcher import Dispatcher
from .tables import deliveries


class DeliveryView(BaseModel):
    delivery_id: uuid.UUID
    cause_event_id: uuid.UUID
    recipient_kind: str
    channel: str
    kind: str
    language: str
    subject: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class Page(BaseModel):
    items: list[DeliveryView]
    total: int
    limit: int
    offset: int


Operator = Annotated[Audit, audited(Role.OPERATOR)]  # what was sent to whom: each person concerned is recorded


def create_app(host: ServiceHost, dispatcher: Dispatcher) -> FastAPI:
    app = FastAPI(title=f"Corridor notifications — node {host.settings.node_id}",
                  description="What was sent to whom (by channel), what failed and why.", version="1")

    @app.get("/deliveries", response_model=Page, tags=["deliveries"])
    async def list_deliveries(audit: Operator, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                              offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
                              status: Literal["pending", "sent", "failed", "erased"] | None = None):
        query = select(deliveries)
        if status:
            query = query.where(deliveries.c.status == status)
        async with host.sessions() as session:
            total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
            rows = await session.execute(query.order_by(deliveries.c.created_at, deliveries.c.delivery_id)
                                         .limit(limit).offset(offset))
            rows = rows.all()
            items = [DeliveryView.model_validate(r._mapping) for r in rows]
        await audit.read("recipient", [r.recipient_id for r in rows])
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @app.post("/deliveries/{delivery_id}/retry", response_model=DeliveryView, tags=["deliveries"],
              responses={404: {"description": "unknown delivery"}, 409: {"description": "not failed"}})
    async def retry(delivery_id: uuid.UUID, audit: Operator):
        async with host.unit_of_work() as uow:
            row = (await uow.session.execute(select(deliveries).where(deliveries.c.delivery_id == str(delivery_id)))).first()
            if row is None:
                raise HTTPException(404, f"no delivery {delivery_id}")
            if row.status != "failed":
                raise HTTPException(409, f"delivery {delivery_id} is {row.status}, not failed")
            await uow.session.execute(update(deliveries).where(deliveries.c.delivery_id == str(delivery_id)).values(
                status="pending", attempts=0, next_attempt_at=datetime.now().astimezone()))
        dispatcher.wake()
        async with host.sessions() as session:
            row = (await session.execute(select(deliveries).where(deliveries.c.delivery_id == str(delivery_id)))).first()
        await audit.changed("recipient", [row.recipient_id])
        return DeliveryView.model_validate(row._mapping)

    @app.get("/health", tags=["operations"])
    async def health():
        return await host.status()

    return app

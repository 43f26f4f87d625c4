"""Small helpers for the runtime's background tasks."""

from __future__ import annotations

import asyncio


def stop_if_cancelled() -> None:
    """Raise the cancellation a nested await may have swallowed: on Python 3.11, a task cancelled
    while the task it awaits completes (asyncio.wait_for) gets the result, not the CancelledError,
    and a loop would go on for ever (a service's stop then never ends)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError

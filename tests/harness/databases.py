"""Databases for tests: a SQLite file, or a fresh PostgreSQL database per test.

PostgreSQL comes from CORRIDOR_TEST_POSTGRES_URL (CI points it at the local server), else from
testcontainers when a Docker engine answers. Without either the PostgreSQL tests are skipped with
the reason, except under CI=true, where that is a failure: CI must run them.
"""

from __future__ import annotations

import os
import socket
import uuid

import asyncpg
import pytest
from sqlalchemy.engine import make_url

ENV = "CORRIDOR_TEST_POSTGRES_URL"


def _docker_engine_answers() -> str | None:
    """None when a Docker engine answers, else why not (checked without leaking the client's socket)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://"):
        path = host.removeprefix("unix://")
        probe = socket.socket(socket.AF_UNIX)
        try:
            probe.settimeout(2)
            probe.connect(path)
        except OSError as error:
            return f"no Docker engine at {path} ({error.strerror or error})"
        finally:
            probe.close()
    import docker

    client = docker.from_env()
    try:
        client.ping()
    except Exception as error:
        return f"no Docker engine ({type(error).__name__})"
    finally:
        client.close()
    return None


def _docker_postgres():
    why_not = _docker_engine_answers()
    if why_not:
        return None, why_not
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer("postgres:16-alpine", driver="asyncpg")
    container.start()
    return container, container.get_connection_url()


def postgres_admin_url(request) -> str:
    url = os.environ.get(ENV)
    if url:
        return url
    container, url_or_reason = _docker_postgres()
    if container is None:
        reason = f"PostgreSQL tests need {ENV} (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test) or a Docker engine: {url_or_reason}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " — CI must run them")
        pytest.skip(reason)
    request.addfinalizer(container.stop)
    return url_or_reason


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_database(admin_url: str) -> str:
    name = f"corridor_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(admin_url).set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)


async def drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()

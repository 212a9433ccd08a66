"""The Neon API emulator: the v2 subset the collection uses, backed by the sandbox's real PostgreSQL.

``sandbox.neon.model`` says how Neon maps onto PostgreSQL and where the emulator differs from Neon.
"""

from __future__ import annotations

from sandbox.faults import FaultSet
from sandbox.neon.app import PREFIX, NeonApp
from sandbox.neon.model import SEED_PROJECT_ID, NeonModel
from sandbox.neon.pg import PostgresBackend
from sandbox.requestlog import RequestLog

__all__ = ["PREFIX", "SEED_PROJECT_ID", "NeonApp", "NeonModel", "PostgresBackend", "build"]


def build(dsn: str, port: int, faults: FaultSet | None = None, log: RequestLog | None = None) -> NeonApp:
    """The emulator over the PostgreSQL at ``dsn``, seeded with one project (``sandbox-project``)."""
    model = NeonModel(PostgresBackend(dsn, port))
    model.reset()
    return NeonApp(model, faults=faults, log=log)

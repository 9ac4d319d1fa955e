"""The PostgreSQL engine opens its connections with the limits the settings name."""

from __future__ import annotations

import pytest

from service.db import make_engine
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="libpq connection parameters are PostgreSQL's")


def test_connections_carry_the_connect_and_statement_timeouts_of_the_settings(settings) -> None:
    engine = make_engine(settings.model_copy(update={"db_connect_timeout_s": 7, "db_statement_timeout_ms": 4321}))
    try:
        with engine.connect() as conn:
            params = conn.connection.dbapi_connection.info.get_parameters()
            shown = conn.exec_driver_sql("SHOW statement_timeout").scalar()
    finally:
        engine.dispose()
    assert params["connect_timeout"] == "7"
    assert shown == "4321ms"

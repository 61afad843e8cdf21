"""How background code gets a connection: slots that leave the pool's last connections to
requests, refused settings that would leave background work none, and a nested background
session refused at once instead of deadlocking once every slot is taken."""

import asyncio

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import URL

from playbook.app.database import NestedBackgroundSessionError, bound_engine
from playbook.app.settings import Settings
from standardized.db import get_background_session

NO_CONNECTION_LEFT = "RESERVED_FOR_REQUESTS=5 leaves no connection for background work in a pool of 5"


def test_settings_reserving_the_whole_pool_are_refused() -> None:
    with pytest.raises(ValidationError, match=NO_CONNECTION_LEFT):
        Settings(pool_size=5, max_overflow=0, reserved_for_requests=5)


async def test_an_engine_is_not_bound_with_settings_reserving_the_whole_pool(
    database_url: URL, settings: Settings
) -> None:
    # model_copy(update=...) skips validation; binding the engine checks again.
    reserving_all = settings.model_copy(update={"pool_size": 5, "max_overflow": 0, "reserved_for_requests": 5})
    with pytest.raises(ValueError, match=NO_CONNECTION_LEFT):
        async with bound_engine(database_url, reserving_all):
            pass


@pytest.mark.standardized
async def test_a_background_session_inside_another_is_refused_at_once(database_url: URL, settings: Settings) -> None:
    one_slot = settings.model_copy(update={"pool_size": 2, "max_overflow": 0, "reserved_for_requests": 1})
    async with bound_engine(database_url, one_slot), get_background_session() as outer:
        # With the only slot taken, waiting for a second one would never end.
        async with asyncio.timeout(5):
            with pytest.raises(NestedBackgroundSessionError, match=r"^a background session was opened inside another"):
                async with get_background_session():
                    pass
        assert await outer.scalar(text("SELECT 1")) == 1, "the outer session is still usable"


@pytest.mark.standardized
async def test_a_task_started_inside_a_background_session_cannot_open_one(
    database_url: URL, settings: Settings
) -> None:
    async with bound_engine(database_url, settings), get_background_session():
        child = asyncio.create_task(_open_background_session())
        with pytest.raises(NestedBackgroundSessionError):
            await child


@pytest.mark.standardized
async def test_background_sessions_one_after_another_share_the_slots(database_url: URL, settings: Settings) -> None:
    one_slot = settings.model_copy(update={"pool_size": 2, "max_overflow": 0, "reserved_for_requests": 1})
    async with bound_engine(database_url, one_slot):
        for _ in range(3):
            await _open_background_session()


async def _open_background_session() -> None:
    async with get_background_session() as session:
        await session.execute(text("SELECT 1"))

"""Places search (placeholder until the service lands)."""

import uuid


async def process_places_search_background(job_id: uuid.UUID, query: str, location: str) -> None:
    raise NotImplementedError

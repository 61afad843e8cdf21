"""Sitemap processing (placeholder until the service lands)."""

import uuid


async def process_domain_background(job_id: uuid.UUID, domain: str) -> None:
    raise NotImplementedError


async def process_batch_background(job_id: uuid.UUID, domains: list[str]) -> None:
    raise NotImplementedError

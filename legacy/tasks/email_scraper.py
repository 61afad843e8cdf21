"""E-mail scraper (placeholder until the service lands)."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession


def scrape_emails_task(job_id: uuid.UUID, domain: str, session: AsyncSession) -> None:
    raise NotImplementedError

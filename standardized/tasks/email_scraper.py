"""E-mail scraper (placeholder until the service lands)."""

import uuid


async def scrape_emails_task(job_id: uuid.UUID, domain: str) -> None:
    raise NotImplementedError

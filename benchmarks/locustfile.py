"""Locust users for `make load`: background jobs of every kind beside a steady cheap read.

Two user classes, run together, or `CheapReader` alone for the baseline:

- `CheapReader` calls GET /health (one `SELECT 1` on a connection from the app's pool) at
  a steady rate, as monitoring would. Its latency and failures answer the question: does
  the background work slow down or break the API's own cheapest read?
- `JobSubmitter` submits jobs of every kind (docs/contract.md), polls each one until it is
  terminal (at most `MAX_POLLS` polls within `MAX_JOB_WAIT` seconds), then reads its
  results. Each job followed is recorded as a request of type `JOB` named after its kind,
  timed from submission to terminal status; a job still pending or processing when the
  wait ends is recorded as a failure, so reports count jobs beside HTTP requests.

Shows: latencies and failures as a client on the same machine sees them.
Does not guarantee: figures for any other machine (locust, the app, the simulator and
PostgreSQL share the cores), nor a count of every job: one still followed when the run
ends is not recorded here (`benchmarks.load` counts jobs from the database).
Traffic goes to 127.0.0.1 only; any other host is refused at startup.
"""

import itertools
import time
from typing import Any
from urllib.parse import urlsplit

import gevent
from locust import FastHttpUser, between, constant_throughput, events, task
from locust.contrib.fasthttp import FastResponse
from locust.env import Environment
from locust.stats import CSV_STATS_INTERVAL_SEC

CHEAP_READS_PER_SECOND = 5  # per CheapReader user
POLL_INTERVAL = 0.25
# A healthy job here ends within about a second; five times that is long enough to wait.
MAX_POLLS = 20
MAX_JOB_WAIT = 5.0
TERMINAL_STATUSES = frozenset({"completed", "partial", "failed"})
JOB_RECORD_TYPE = "JOB"

_site_numbers = itertools.count(1)


def _new_sites(count: int) -> list[str]:
    """Hosts no job has used yet, so every job does its own work."""
    return [f"site-{next(_site_numbers)}.test" for _ in range(count)]


class JobNotTerminal(Exception):
    """The job was still pending or processing when the client stopped waiting."""


class LocalUser(FastHttpUser):
    abstract = True
    host = "http://127.0.0.1:8000"
    # Bounded, so a starved app shows up as failures rather than as users stuck for a minute.
    connection_timeout = 5.0
    network_timeout = 10.0


@events.init.add_listener
def _refuse_other_hosts(environment: Environment, **_kwargs: object) -> None:
    host = environment.host or LocalUser.host
    if urlsplit(host).hostname != "127.0.0.1":
        raise SystemExit(f"this locustfile sends traffic to 127.0.0.1 only, not to {host}")


@events.quitting.add_listener
def _let_the_csv_catch_up(**_kwargs: object) -> None:
    # Locust rewrites its CSV files once a second and not at the end: one more round after
    # the users have stopped makes them agree with the HTML report.
    gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.5)


def _failure_reason(response: FastResponse) -> str:
    """What went wrong, in the words of the app: a health check's database error, a 422's detail."""
    if response.status_code == 0:
        # Status 0: locust's stand-in for a request that got no response; only it carries `error`.
        return f"no response: {getattr(response, 'error', None)!r}"
    try:
        body = response.json()
    except ValueError:
        body = None
    said = (body.get("database") or body.get("detail")) if isinstance(body, dict) else None
    return f"HTTP {response.status_code}: {said or response.text}"[:200]


class CheapReader(LocalUser):
    wait_time = constant_throughput(CHEAP_READS_PER_SECOND)

    @task
    def health(self) -> None:
        with self.client.get("/health", catch_response=True) as response:
            if response.status_code != 200:
                # The body names the database error (a pool timeout, say); keep it in the report.
                response.failure(_failure_reason(response))


class JobSubmitter(LocalUser):
    wait_time = between(0.5, 1.5)

    @task
    def batch(self) -> None:
        self._follow_job("batch", "/api/v3/batches", {"items": [*_new_sites(3), "fail-1.test"]})

    @task
    def sitemap_scan(self) -> None:
        self._follow_job("sitemap_scan", "/api/v3/sitemap/scan", {"domain": _new_sites(1)[0]})

    @task
    def sitemap_batch(self) -> None:
        self._follow_job("sitemap_batch", "/api/v3/sitemap/batch", {"domains": [*_new_sites(2), "fail-1.test"]})

    @task
    def places_search(self) -> None:
        self._follow_job("places_search", "/api/v3/places/search", {"query": "dentist", "location": "Austin, TX"})

    @task
    def email_scan(self) -> None:
        self._follow_job("email_scan", "/api/v3/email-scraper/scan", {"domain": _new_sites(1)[0]})

    def _follow_job(self, kind: str, path: str, body: dict[str, Any]) -> None:
        submitted = time.perf_counter()
        job_id = self._submit(path, body)
        if job_id is None:
            return
        status, polls = self._wait_until_terminal(job_id)
        waited = time.perf_counter() - submitted
        terminal = status in TERMINAL_STATUSES
        self.environment.events.request.fire(
            request_type=JOB_RECORD_TYPE,
            name=kind,
            response_time=waited * 1000,
            response_length=0,
            exception=None if terminal else JobNotTerminal(f"{status} after {polls} polls in {waited:.1f} s"),
            context={},
        )
        if terminal:
            self.client.get(f"/api/v3/jobs/{job_id}/results", name="/api/v3/jobs/{id}/results")

    def _submit(self, path: str, body: dict[str, Any]) -> str | None:
        with self.client.post(path, json=body, catch_response=True) as response:
            if response.status_code != 202:
                response.failure(_failure_reason(response))
                return None
            job_id: str = response.json()["id"]
            return job_id

    def _wait_until_terminal(self, job_id: str) -> tuple[str, int]:
        """Poll the job; return its last status seen (or "unreadable") and the polls made."""
        deadline = time.monotonic() + MAX_JOB_WAIT
        status = "unreadable"
        for polls in range(1, MAX_POLLS + 1):  # noqa: B007 (returned after the loop: the polls made)
            response = self.client.get(f"/api/v3/jobs/{job_id}", name="/api/v3/jobs/{id}")
            if response.status_code == 200:
                status = response.json()["status"]
            if status in TERMINAL_STATUSES or time.monotonic() + POLL_INTERVAL > deadline:
                break
            gevent.sleep(POLL_INTERVAL)
        return status, polls

"""Locust users for `make load`: background jobs of every kind and a hostile client beside a
steady cheap read.

Three user classes, run together in any mix, or `CheapReader` alone for the baseline:

- `CheapReader` calls GET /health (one `SELECT 1` on a connection from the app's pool) at
  a steady rate, as monitoring would. Its latency and failures answer the question: does
  the background work slow down or break the API's own cheapest read?
- `JobSubmitter` submits jobs of every kind (docs/contract.md), polls each one until it is
  terminal (at most `MAX_POLLS` polls within `MAX_JOB_WAIT` seconds), then reads its
  results. Each job followed is recorded as a request of type `JOB` named after its kind,
  timed from submission to terminal status; a job still pending or processing when the
  wait ends is recorded as a failure, so reports count jobs beside HTTP requests.
- `HostileClient` sends what a careless or hostile client sends (`HOSTILE_REQUESTS`): bodies
  over the size limit, JSON that is not JSON, wrong media types, names of internal hosts,
  control characters, a 900 KB item, reads of jobs that are not its own, and more of them
  than its rate limit allows. Each is a success when refused with the 4xx the contract
  names, and a failure otherwise; their names begin with `hostile: `.

The app runs with API keys and its default limits: each job submitter is a client with a
key of its own (one of `LOAD_API_KEYS`, comma-separated), well within its rate limit; the
hostile users are one client, sending `LOAD_HOSTILE_KEY`, and go past theirs.

Shows: latencies and failures as a client on the same machine sees them.
Does not guarantee: figures for any other machine (locust, the app, the simulator and
PostgreSQL share the cores), nor a count of every job: one still followed when the run
ends is not recorded here (`benchmarks.load` counts jobs from the database).
Traffic goes to 127.0.0.1 only; any other host is refused at startup.
"""

import itertools
import json
import os
import random
import time
import uuid
from dataclasses import dataclass
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
HOSTILE_PREFIX = "hostile: "
HOSTILE_REQUESTS_PER_SECOND = 20  # per HostileClient user
MAX_BODY_BYTES = 1024 * 1024  # the app's default MAX_BODY_BYTES
_SUBMITTER_KEYS = itertools.cycle(os.environ.get("LOAD_API_KEYS", "").split(","))
HOSTILE_KEY = os.environ.get("LOAD_HOSTILE_KEY", "")

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
    said = body.get("detail") if isinstance(body, dict) else None
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

    def __init__(self, environment: Environment) -> None:
        # Read when the client is made: each submitter is a client with a key of its own.
        self.default_headers = {"X-API-Key": next(_SUBMITTER_KEYS)}
        super().__init__(environment)

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


@dataclass(frozen=True)
class HostileRequest:
    name: str
    method: str
    path: str
    refused_with: frozenset[int]
    body: bytes | None = None
    content_type: str = "application/json"


def _json(document: object) -> bytes:
    return json.dumps(document).encode()


_REFUSED = frozenset({422, 429})
_UNKNOWN_JOB = f"/api/v3/jobs/{uuid.UUID(int=1)}"
# Built once: the bodies are the point, not the client's time to make them.
HOSTILE_REQUESTS = (
    HostileRequest(
        "body over the limit",
        "POST",
        "/api/v3/batches",
        frozenset({413, 429}),
        b'{"items": ["' + b"a" * (MAX_BODY_BYTES + 1) + b'"]}',
    ),
    HostileRequest("900 KB item", "POST", "/api/v3/batches", _REFUSED, _json({"items": ["a" * 900_000]})),
    HostileRequest("NaN", "POST", "/api/v3/batches", _REFUSED, b'{"items": [NaN]}'),
    HostileRequest("not UTF-8", "POST", "/api/v3/sitemap/scan", _REFUSED, b'{"domain": "caf\xe9.test"}'),
    HostileRequest(
        "nested deep", "POST", "/api/v3/batches", _REFUSED, b'{"items": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    ),
    HostileRequest(
        "merge-patch+json", "POST", "/api/v3/batches", frozenset({415, 429}), b"{}", "application/merge-patch+json"
    ),
    HostileRequest(
        "NUL in a query", "POST", "/api/v3/places/search", _REFUSED, _json({"query": "a\x00", "location": "x"})
    ),
    HostileRequest(
        "internal name", "POST", "/api/v3/sitemap/scan", _REFUSED, _json({"domain": "metadata.google.internal"})
    ),
    HostileRequest(
        "spelled-out address", "POST", "/api/v3/email-scraper/scan", _REFUSED, _json({"domain": "127.0.0.1.nip.io"})
    ),
    HostileRequest("a job not its own", "GET", _UNKNOWN_JOB, frozenset({404, 429})),
    HostileRequest("a page too large", "GET", f"{_UNKNOWN_JOB}/results?limit=100000", _REFUSED),
)


class HostileClient(LocalUser):
    wait_time = constant_throughput(HOSTILE_REQUESTS_PER_SECOND)
    # Read by FastHttpUser when it makes the client; every hostile user is the same client.
    default_headers = {"X-API-Key": HOSTILE_KEY}  # noqa: RUF012

    @task
    def misbehave(self) -> None:
        request = random.choice(HOSTILE_REQUESTS)
        headers = {"content-type": request.content_type} if request.body is not None else {}
        with self.client.request(
            request.method,
            request.path,
            data=request.body,  # type: ignore[arg-type]  # bytes are sent as they are
            headers=headers,
            name=f"{HOSTILE_PREFIX}{request.name}",
            catch_response=True,
        ) as response:
            if response.status_code in request.refused_with:
                response.success()
            else:
                response.failure(f"not refused as the contract says: {_failure_reason(response)}")

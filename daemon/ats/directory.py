"""Steps 1-3 of the contract, cached: open jobs, pipelines and the configured source.

Each list is fetched at most once per `refresh_seconds`. A lookup that misses (a
pipeline id or the source name not in the cached list) refreshes that list once, unless
it was fetched less than `MISS_FLOOR` seconds ago, so a burst of messages for one broken
job does not hammer the ATS. Still missing after that:
- a pipeline: `AtsRejected` -- a problem of that job, so of that message, for a person;
- the source: `ConfigError` naming `ats.source` -- every message would fail the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from daemon.ats.models import AtsId, Job, Pipeline, Source
from daemon.errors import AtsRejected, ConfigError

log = logging.getLogger(__name__)
T = TypeVar("T")
MISS_FLOOR = 10.0


class DirectoryClient(Protocol):
    """The three reads of `AtsClient` the directory needs."""

    def search_jobs(self, query: str = "") -> list[Job]: ...
    def pipelines(self) -> list[Pipeline]: ...
    def sources(self) -> list[Source]: ...


class _Cached(Generic[T]):
    """One list from the ATS and when it was fetched."""

    def __init__(self, fetch: Callable[[], list[T]], name: str, clock: Callable[[], float]):
        self._fetch, self._name, self._clock = fetch, name, clock
        self._items: list[T] | None = None
        self._fetched_at = 0.0

    def get(self, max_age: float) -> list[T]:
        if self._items is None or self.age() >= max_age:
            self.refresh()
        return self._items or []

    def age(self) -> float:
        return self._clock() - self._fetched_at if self._items is not None else float("inf")

    def refresh(self) -> list[T]:
        self._items = list(self._fetch())
        self._fetched_at = self._clock()
        log.info("ats.directory.refreshed", extra={"list": self._name, "count": len(self._items)})
        return self._items


class AtsDirectory:
    """Cached answers to "which jobs are open", "which pipeline", "which source"."""

    def __init__(self, client: DirectoryClient, *, source_name: str,
                 refresh_seconds: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.source_name = source_name
        self.refresh_seconds = refresh_seconds
        self._jobs = _Cached(client.search_jobs, "jobs", clock)
        self._pipelines = _Cached(client.pipelines, "pipelines", clock)
        self._sources = _Cached(client.sources, "sources", clock)

    def open_jobs(self) -> list[Job]:
        """The jobs the search returns that are open."""
        return [job for job in self._jobs.get(self.refresh_seconds) if job.is_open]

    def pipelines(self) -> list[Pipeline]:
        """Every pipeline with its stages."""
        return self._pipelines.get(self.refresh_seconds)

    def sources(self) -> list[Source]:
        """Every applicant source."""
        return self._sources.get(self.refresh_seconds)

    def pipeline(self, pipeline_id: AtsId | int | str) -> Pipeline:
        """The pipeline with this id; `AtsRejected` when the ATS does not know it."""
        wanted = str(AtsId.of(pipeline_id))
        found = self._lookup(self._pipelines, lambda p: str(p.id) == wanted)
        if found is None:
            raise AtsRejected(f"the job's pipeline {wanted} is not among the ATS pipelines")
        return found

    def source(self) -> Source:
        """The configured source, matched by name without regard to case."""
        wanted = self.source_name.strip().casefold()
        found = self._lookup(self._sources, lambda s: s.name.strip().casefold() == wanted)
        if found is None:
            raise ConfigError(f"the ATS has no source named {self.source_name!r}", key="ats.source")
        return found

    def refresh(self) -> None:
        """Fetch all three lists again now."""
        for cached in (self._jobs, self._pipelines, self._sources):
            cached.refresh()

    def _lookup(self, cached: _Cached[T], match: Callable[[T], bool]) -> T | None:
        found = next((item for item in cached.get(self.refresh_seconds) if match(item)), None)
        if found is None and cached.age() >= MISS_FLOOR:
            found = next((item for item in cached.refresh() if match(item)), None)
        return found

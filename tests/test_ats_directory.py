"""AtsDirectory: steps 1-3 cached, refreshed on schedule and once on a miss."""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest

from daemon.ats.client import AtsClient
from daemon.ats.directory import MISS_FLOOR, AtsDirectory
from daemon.ats.models import AtsId, Job, Pipeline, Source, Stage
from daemon.ats.retry import RetryPolicy
from daemon.errors import AtsRejected, AtsUnavailable, ConfigError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeClient:
    """The three directory reads, counting calls; the lists can be changed between calls."""

    def __init__(self) -> None:
        self.jobs = [Job(1, "Open job", 10, "open"), Job(2, "Old job", 10, "closed"),
                     Job(3, "No status", 11)]
        self.pipeline_list = [Pipeline(10, "Default", (Stage(100, "New", 1),))]
        self.source_list = [Source("s1", "Referral"), Source("s2", "Email")]
        self.calls: Counter[str] = Counter()

    def search_jobs(self, query: str = "") -> list[Job]:
        self.calls["jobs"] += 1
        return list(self.jobs)

    def pipelines(self) -> list[Pipeline]:
        self.calls["pipelines"] += 1
        return list(self.pipeline_list)

    def sources(self) -> list[Source]:
        self.calls["sources"] += 1
        return list(self.source_list)


def directory(client: FakeClient, clock: Clock, source_name: str = "email") -> AtsDirectory:
    return AtsDirectory(client, source_name=source_name, refresh_seconds=300.0, clock=clock)


def test_open_jobs_keeps_only_open_jobs():
    """open_jobs filters the search to jobs that are open (or have no status)."""
    ats = directory(FakeClient(), Clock())
    assert [str(job.id) for job in ats.open_jobs()] == ["1", "3"]


def test_lists_are_cached_until_refresh_seconds():
    """Repeated lookups within refresh_seconds fetch each list once; after it, once more."""
    client, clock = FakeClient(), Clock()
    ats = directory(client, clock)
    for _ in range(5):
        ats.open_jobs()
        ats.pipeline(10)
        ats.source()
    assert client.calls == Counter(jobs=1, pipelines=1, sources=1)
    clock.now = 300.0
    ats.open_jobs()
    ats.pipeline(10)
    ats.source()
    assert client.calls == Counter(jobs=2, pipelines=2, sources=2)


def test_pipeline_miss_refreshes_once_and_finds_a_new_pipeline():
    """A pipeline id not in the cache triggers one refresh, which can find it."""
    client, clock = FakeClient(), Clock()
    ats = directory(client, clock)
    ats.pipeline(10)
    client.pipeline_list.append(Pipeline(11, "Tech", (Stage(110, "Applied"),)))
    clock.now = MISS_FLOOR
    assert ats.pipeline(11).name == "Tech"
    assert client.calls["pipelines"] == 2


def test_pipeline_still_missing_after_refresh_is_rejected():
    """A pipeline the ATS does not list, even after one refresh, is AtsRejected."""
    client, clock = FakeClient(), Clock()
    ats = directory(client, clock)
    ats.pipeline(10)
    clock.now = MISS_FLOOR
    with pytest.raises(AtsRejected, match="pipeline 99"):
        ats.pipeline(99)
    assert client.calls["pipelines"] == 2


def test_a_miss_right_after_a_fetch_does_not_fetch_again():
    """A miss on a list fetched less than MISS_FLOOR seconds ago does not hammer the ATS."""
    client, clock = FakeClient(), Clock()
    ats = directory(client, clock)
    for _ in range(3):
        with pytest.raises(AtsRejected):
            ats.pipeline(99)
    assert client.calls["pipelines"] == 1


def test_pipeline_ids_match_as_text():
    """A job's pipeline_id 10 finds the pipeline listed as "10" (and the other way round)."""
    client = FakeClient()
    client.pipeline_list = [Pipeline("10", "Text id")]
    assert directory(client, Clock()).pipeline(AtsId(10)).name == "Text id"


@pytest.mark.parametrize("name", ["Email", "email", " EMAIL ", "eMaIl"])
def test_source_is_found_by_name_ignoring_case(name):
    """The configured source is matched by name, case-insensitively."""
    assert directory(FakeClient(), Clock(), name).source().id == AtsId("s2")


def test_source_miss_refreshes_once_then_is_a_config_error():
    """A source not in the list after one refresh is a ConfigError naming ats.source; a list
    fetched by the same lookup is not fetched twice."""
    client, clock = FakeClient(), Clock()
    ats = directory(client, clock, "Careers page")
    with pytest.raises(ConfigError):
        ats.source()
    assert client.calls["sources"] == 1
    clock.now = MISS_FLOOR
    with pytest.raises(ConfigError) as info:
        ats.source()
    assert info.value.key == "ats.source"
    assert "Careers page" in str(info.value)
    assert client.calls["sources"] == 2


def test_source_added_in_the_ats_is_found_by_the_miss_refresh():
    """A source created in the ATS after the first fetch is found by the refresh on a miss."""
    client, clock = FakeClient(), Clock()
    ats = directory(client, clock, "Careers")
    ats.open_jobs()
    with pytest.raises(ConfigError):
        ats.source()
    client.source_list.append(Source(77, "Careers"))
    clock.now = MISS_FLOOR
    assert ats.source().id == AtsId(77)


def test_refresh_fetches_everything_again():
    """refresh() fetches all three lists now."""
    client = FakeClient()
    ats = directory(client, Clock())
    ats.open_jobs()
    ats.refresh()
    assert client.calls == Counter(jobs=2, pipelines=1, sources=1)


def test_a_failed_fetch_is_not_cached():
    """When a fetch fails the error goes up and the next lookup fetches again."""
    client = FakeClient()
    failures = [AtsUnavailable("down")]
    real = client.sources

    def flaky() -> list[Source]:
        if failures:
            raise failures.pop()
        return real()

    client.sources = flaky  # type: ignore[method-assign]
    ats = directory(client, Clock())
    with pytest.raises(AtsUnavailable):
        ats.source()
    assert ats.source().name == "Email"


def test_directory_over_the_real_client_counts_requests():
    """Over AtsClient and a MockTransport, a cached directory sends each request once."""
    paths: Counter[str] = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        paths[request.url.path] += 1
        if request.url.path == "/api/v1/jobs/search":
            assert json.loads(request.content)["page"] == 1
            return httpx.Response(200, json={"items": [
                {"id": 5, "title": "Nurse", "pipeline_id": 2, "status": "OPEN"},
                {"id": 6, "title": "Porter", "pipeline_id": 2, "status": "archived"}]})
        if request.url.path == "/api/v1/pipelines/all":
            return httpx.Response(200, json=[{"id": 2, "name": "P", "stages": [
                {"id": 21, "name": "Screen", "position": 2},
                {"id": 20, "name": "New", "position": 1}]}])
        return httpx.Response(200, json={"data": [{"id": "src-1", "name": "Email"}]})

    client = AtsClient("https://ats.test", "t", transport=httpx.MockTransport(handler),
                       retry=RetryPolicy(attempts=1))
    ats = AtsDirectory(client, source_name="Email", clock=Clock())
    for _ in range(3):
        (job,) = ats.open_jobs()
        stage = ats.pipeline(job.pipeline_id).first_stage()
        source = ats.source()
    assert (job.id.wire, stage.id.wire, source.id.wire) == (5, 20, "src-1")
    assert paths == Counter({"/api/v1/jobs/search": 1, "/api/v1/pipelines/all": 1,
                             "/api/v1/sources/all": 1})

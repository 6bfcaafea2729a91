"""The Skailer ATS over HTTP: the seven calls of the contract, and nothing else.

Every call goes through the circuit breaker and the retry policy, and every httpx error
or unusable answer is translated here into the project's exception tree:

    nothing was sent (connect error/timeout, pool timeout) .... AtsUnavailable (any call)
    answer lost after sending (read/write timeout, dropped) ... reads, upload: AtsUnavailable;
                                                                 creates: OutcomeUnknown
    429 .................................................... AtsRateLimited(retry_after)
    5xx .................................................... AtsUnavailable (503: retry_after);
                                                                 504 on a create: OutcomeUnknown
    3xx, other 4xx ......................................... AtsRejected(status)
    2xx that cannot be read (no JSON, no id) ............... reads, upload: AtsUnavailable;
                                                                 creates: OutcomeUnknown
    TLS certificate not trusted ............................ AtsUnavailable, saying so

The token is only ever in the request headers: it never appears in a log record or an
exception message (server text that echoes it is redacted).
"""

from __future__ import annotations

import enum
import logging
import random
import re
import ssl
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urljoin

import httpx

from daemon import __version__
from daemon.ats.breaker import CircuitBreaker
from daemon.ats.models import AtsId, Job, Pipeline, Source, UploadedCv
from daemon.ats.reading import (
    ShapeError,
    next_page,
    parse_retry_after,
    read_id,
    read_job,
    read_list,
    read_object,
    read_pipeline,
    read_source,
    read_uploaded_cv,
)
from daemon.ats.retry import RetryPolicy, Uniform, call_with_retry
from daemon.errors import (
    AtsInboxError,
    AtsRateLimited,
    AtsRejected,
    AtsUnavailable,
    ConfigError,
    OutcomeUnknown,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
IdLike = AtsId | int | str

SEARCH_JOBS = "/api/v1/jobs/search"
PIPELINES = "/api/v1/pipelines/all"
SOURCES = "/api/v1/sources/all"
UPLOAD_CV = "/api/v1/upload-cv-file"
APPLICANT = "/api/v1/applicant"
CANDIDATE = "/api/v1/candidate"
ACTIONS = "/api/v1/candidates/{candidate_id}/actions"
PER_PAGE = 100
MAX_PAGES = 50
MAX_COMMENT_CHARS = 10_000
MAX_DETAIL_CHARS = 200

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError,
             httpx.UnsupportedProtocol, httpx.LocalProtocolError)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACE = re.compile(r"\s+")


class Effect(enum.Enum):
    """What repeating a call would do; decides how a lost answer is reported."""

    READ = "read"  # nothing changes
    UPLOAD = "upload"  # an orphan file at worst: safe to repeat
    CREATE = "create"  # a duplicate: never repeat once sent


class AtsClient:
    """One httpx client for the ATS; each method is one step of the contract."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0,
                 verify: bool | str = True, auth_header: str = "Authorization",
                 auth_scheme: str = "Bearer", transport: httpx.BaseTransport | None = None,
                 retry: RetryPolicy | None = None, breaker: CircuitBreaker | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 rng: Uniform | None = None):
        self._token = token
        self._retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._sleep, self._clock, self._rng = sleep, clock, rng or random.Random()  # noqa: S311
        credential = f"{auth_scheme} {token}" if auth_scheme else token
        self._http = httpx.Client(
            base_url=base_url, transport=transport, verify=_tls_context(verify),
            timeout=httpx.Timeout(timeout), follow_redirects=False,
            headers={auth_header: credential, "Accept": "application/json",
                     "User-Agent": f"ats-inbox/{__version__}"},
        )

    def __repr__(self) -> str:  # never show the token
        return f"AtsClient(base_url={str(self._http.base_url)!r})"

    def __enter__(self) -> AtsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- steps 1-3: the directory -------------------------------------------------------

    def search_jobs(self, query: str = "") -> list[Job]:
        """Every job the search returns, following all pages (at most MAX_PAGES)."""
        jobs: dict[AtsId, Job] = {}
        page, url = 1, SEARCH_JOBS
        for _ in range(MAX_PAGES):
            body = {"query": query, "page": page, "per_page": PER_PAGE}
            raw, items = self._call(Effect.READ, "search jobs", "POST", url, _read_page, json=body)
            fresh = {job.id: job for job in _each(items, read_job, "job") if job.id not in jobs}
            jobs.update(fresh)
            nxt = next_page(raw, page=page, per_page=PER_PAGE, seen=len(jobs), got=len(items))
            if nxt is None or not fresh:
                return list(jobs.values())
            page, url = self._follow(nxt, page)
        log.warning("ats.search.truncated", extra={"pages": MAX_PAGES, "jobs": len(jobs)})
        return list(jobs.values())

    def _follow(self, nxt: int | str, page: int) -> tuple[int, str]:
        """The next request: a page number on the search path, or the `next` URL's path
        and query on our own origin (the token is never sent to another host)."""
        if isinstance(nxt, int):
            return nxt, SEARCH_JOBS
        base = self._http.base_url
        target = httpx.URL(urljoin(str(base), nxt))
        return page + 1, str(target.copy_with(scheme=base.scheme, host=base.host, port=base.port))

    def pipelines(self) -> list[Pipeline]:
        """All pipelines with their stages."""
        return self._call(Effect.READ, "list pipelines", "GET", PIPELINES,
                          lambda body: _each(read_list(body), read_pipeline, "pipeline"))

    def sources(self) -> list[Source]:
        """All applicant sources."""
        return self._call(Effect.READ, "list sources", "GET", SOURCES,
                          lambda body: _each(read_list(body), read_source, "source"))

    def answers(self) -> bool:
        """Does the ATS answer at all right now? One read, no retries, past the breaker.

        Tells an outage (stop starting messages) from a failure of one message (count it
        against that message). A success closes the circuit.
        """
        try:
            response = self._send(Effect.READ, "probe", "GET", SOURCES)
        except AtsUnavailable:
            return False
        if response.is_success:
            self.breaker.reset()
        return response.is_success

    # -- steps 4-7: creates ---------------------------------------------------------------

    def upload_cv(self, filename: str, data: bytes, content_type: str) -> UploadedCv:
        """Upload one CV file (multipart field `file`); safe to repeat."""
        files = {"file": (filename, data, content_type)}
        return self._call(Effect.UPLOAD, "upload CV", "POST", UPLOAD_CV, read_uploaded_cv,
                          files=files)

    def create_applicant(self, *, first_name: str, last_name: str, email: str,
                         cv_ids: Sequence[IdLike], source_id: IdLike, middle_name: str = "",
                         phone: str = "") -> AtsId:
        """Create the applicant with the uploaded CVs attached; returns its id."""
        body: dict[str, Any] = {"first_name": first_name, "last_name": last_name, "email": email,
                                "source_id": _wire(source_id),
                                "cv_ids": [_wire(cv_id) for cv_id in cv_ids]}
        body.update({k: v for k, v in (("middle_name", middle_name), ("phone", phone)) if v})
        return self._create("create applicant", APPLICANT, "applicant", body)

    def create_candidate(self, *, job_id: IdLike, applicant_id: IdLike, pipeline_id: IdLike,
                         stage_id: IdLike, source_id: IdLike) -> AtsId:
        """Put the applicant on the job, in the given pipeline stage; returns the candidate id."""
        body = {"job_id": _wire(job_id), "applicant_id": _wire(applicant_id),
                "pipeline_id": _wire(pipeline_id), "pipeline_stage_id": _wire(stage_id),
                "source_id": _wire(source_id)}
        return self._create("create candidate", CANDIDATE, "candidate", body)

    def add_comment(self, candidate_id: IdLike, text: str) -> AtsId:
        """Add a plain-text comment to a candidate; returns the action id."""
        comment = _plain(text)
        if not comment:
            raise ValueError("a comment needs some text")
        path = ACTIONS.format(candidate_id=quote(str(AtsId.of(candidate_id)), safe=""))
        return self._create("add comment", path, "action", {"comment": comment})

    def _create(self, what: str, path: str, thing: str, body: dict[str, Any]) -> AtsId:
        return self._call(Effect.CREATE, what, "POST", path,
                          lambda answer: read_id(read_object(answer), thing), json=body)

    # -- one call: breaker, retries, translation -----------------------------------------

    def _call(self, effect: Effect, what: str, method: str, url: str,
              read: Callable[[Any], T], **kwargs: Any) -> T:
        def attempt() -> T:
            response = self._send(effect, what, method, url, **kwargs)
            return self._answer(effect, what, response, read)

        return call_with_retry(lambda: self.breaker.call(attempt), self._retry,
                               sleep=self._sleep, clock=self._clock, rng=self._rng)

    def _send(self, effect: Effect, what: str, method: str, url: str,
              **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except (httpx.TransportError, httpx.DecodingError) as exc:
            log.warning("ats.transport.failed", extra={"step": what, "error": type(exc).__name__})
            raise _transport_error(effect, what, exc) from exc

    def _answer(self, effect: Effect, what: str, response: httpx.Response,
                read: Callable[[Any], T]) -> T:
        log.debug("ats.response", extra={"step": what, "status": response.status_code})
        if not response.is_success:
            raise self._refusal(effect, what, response)
        try:
            return read(response.json())
        except ValueError as exc:  # not JSON, or ShapeError
            log.warning("ats.answer.unreadable",
                        extra={"step": what, "status": response.status_code})
            raise _lost(effect)(f"ATS {what}: answered {response.status_code} but the answer "
                                f"could not be read ({_reason(exc)})") from exc

    def _refusal(self, effect: Effect, what: str, response: httpx.Response) -> AtsInboxError:
        status = response.status_code
        detail = _error_detail(response, self._token)
        suffix = f": {detail}" if detail else ""
        if status == 429:
            return AtsRateLimited(f"ATS {what}: rate limited (429){suffix}",
                                  retry_after=_retry_after(response))
        if status == 504 and effect is Effect.CREATE:
            return OutcomeUnknown(f"ATS {what}: gateway timeout (504) after the request was sent")
        if status >= 500:
            wait = _retry_after(response) if status == 503 else None
            return AtsUnavailable(f"ATS {what}: server error ({status}){suffix}", retry_after=wait)
        if status < 400:
            return AtsRejected(f"ATS {what}: unexpected redirect ({status}); check ats.base_url",
                               status=status)
        return AtsRejected(f"ATS {what}: refused ({status}){suffix}", status=status)


def _read_page(body: Any) -> tuple[Any, list[dict[str, Any]]]:
    return body, read_list(body)


def _each(items: list[dict[str, Any]], read: Callable[[dict[str, Any]], T], thing: str) -> list[T]:
    """Read every item; one that cannot be read is left out (and logged by index)."""
    kept = []
    for index, item in enumerate(items):
        try:
            kept.append(read(item))
        except ValueError:
            log.warning("ats.item.skipped", extra={"thing": thing, "index": index})
    return kept


def _wire(value: IdLike) -> int | str:
    return AtsId.of(value).wire


def _transport_error(effect: Effect, what: str, exc: httpx.HTTPError) -> AtsInboxError:
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError) and _untrusted_certificate(exc):
        return AtsUnavailable(f"ATS {what}: the server's TLS certificate was not trusted "
                              "(check ats.ca_file)")
    if isinstance(exc, _NOT_SENT):
        return AtsUnavailable(f"ATS {what}: not sent, cannot connect ({name})")
    return _lost(effect)(f"ATS {what}: the answer was lost after sending ({name})")


def _lost(effect: Effect) -> type[AtsInboxError]:
    return OutcomeUnknown if effect is Effect.CREATE else AtsUnavailable


def _reason(exc: ValueError) -> str:
    return str(exc) if isinstance(exc, ShapeError) else "not JSON"


def _tls_context(verify: bool | str) -> ssl.SSLContext | bool:
    if not isinstance(verify, str):
        return verify
    try:
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as exc:
        message = f"cannot read the CA bundle {verify!r}: {exc}"
        raise ConfigError(message, key="ats.ca_file") from exc


def _untrusted_certificate(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _retry_after(response: httpx.Response) -> float | None:
    return parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))


def _error_detail(response: httpx.Response, token: str) -> str:
    """A short message from a JSON error body, if there is one; never an HTML page."""
    if "json" not in response.headers.get("Content-Type", ""):
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    return _clean(_find_message(body), token)


def _find_message(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict):
        return _find_message(error) or str(error.get("code") or "")
    for key in ("message", "detail", "error"):
        value = body.get(key)
        if isinstance(value, str):
            return value
    return ""


def _clean(text: str, token: str) -> str:
    if token:
        text = text.replace(token, "[redacted]")
    text = _SPACE.sub(" ", _CONTROL.sub(" ", text)).strip()
    return text[:MAX_DETAIL_CHARS]


def _plain(text: str) -> str:
    """Comment text: no control characters (newlines and tabs kept), capped in length."""
    return _CONTROL.sub("", text.replace("\r\n", "\n")).strip()[:MAX_COMMENT_CHARS]

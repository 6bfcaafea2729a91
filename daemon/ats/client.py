"""The Skailer ATS over HTTP: the seven calls of the contract, and nothing else.

Every call goes through the circuit breaker and the retry policy, and every httpx error
or unusable answer is translated here into the project's exception tree. Whether a failed
call may be sent again is decided by one table, in `outcomes` ("not done" or "unknown");
the rest is decided here:

    nothing was sent (connect error/timeout, pool timeout) .... AtsUnavailable (any call)
    answer lost after sending (read/write timeout, dropped) ... reads, upload: AtsUnavailable;
                                                                 creates: OutcomeUnknown
    429, 503 (`not_done_statuses`) ......................... AtsRateLimited / AtsUnavailable,
                                                                 with Retry-After
    500, 502, 504, other 5xx ............................... reads, upload: AtsUnavailable;
                                                                 creates: OutcomeUnknown
    2xx that cannot be read (no JSON, no id) ............... reads, upload: AtsUnavailable;
                                                                 creates: OutcomeUnknown
    303 to a POST (it acted and points at the result) ...... upload: AtsUnavailable;
                                                                 creates: OutcomeUnknown
    other 3xx (never followed), on any call ................ AtsMisdirected
    a create answered about another person or job .......... OutcomeUnknown (its email, or the
      (the email, applicant or job it carries differs)         candidate's applicant or job)
    404, or an HTML page (2xx, 4xx), on a directory read ... AtsMisdirected
    401, 403, other 4xx .................................... AtsRejected(status)
    TLS certificate not trusted ............................ AtsUnavailable, saying so
    no whole answer within timeout_seconds (a trickle) ..... as an answer lost after sending
    an answer past MAX_ANSWER_BYTES (read no further) ...... reads: AtsMisdirected; upload:
                                                                 AtsUnavailable; creates:
                                                                 OutcomeUnknown

`timeout_seconds` is a deadline for the whole exchange, not for each read (`bounded`). With
`stopped`, a read or an upload in progress is abandoned within a second of a stop; a create
already sent is left to finish within its deadline (cutting it would make its outcome
unknown).

AtsMisdirected is about ats.base_url, not about one message: the server answered, but not
as the ATS (a wrong path, http redirected to https, a proxy's error or login page).

`observe`, when given, is told of every exchange as (step, status): the HTTP status ("201"),
"error" when no answer came, and "retry" before each retry wait (for metrics).

The token is only ever in the request headers: it never appears in a log record or an
exception message (server text that echoes it is redacted).
"""

from __future__ import annotations

import enum
import io
import logging
import random
import re
import ssl
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urljoin

import httpx

from daemon import __version__
from daemon.ats.bounded import MAX_ANSWER_BYTES, AnswerTooLarge, bound, exchange, never
from daemon.ats.breaker import CircuitBreaker
from daemon.ats.models import AtsId, Job, Pipeline, Source, UploadedCv
from daemon.ats.outcomes import (
    DEFAULT_NOT_DONE_STATUSES,
    NOT_DONE,
    UNREADABLE_2XX,
    Failure,
    check_not_done_statuses,
    status_failure,
    transport_failure,
    verdict,
)
from daemon.ats.reading import (
    ShapeError,
    echoed,
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
    AtsMisdirected,
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
MIN_REDACTED_SUBSTRING = 8  # shorter tokens are redacted only where they stand as a word
BASE_URL_HINT = "it should be the ATS's root, e.g. https://acme.skailer.com"
HTML_TYPES = ("text/html", "application/xhtml+xml")

_WORD_CHARS = r"[A-Za-z0-9._~+/-]"  # token68 without "=": what a short token must stand apart from
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACE = re.compile(r"\s+")


class Effect(enum.Enum):
    """What repeating a call would do; decides how a lost answer is reported."""

    READ = "read"  # nothing changes
    UPLOAD = "upload"  # an orphan file at worst: safe to repeat
    CREATE = "create"  # a duplicate: never repeat once sent


class AtsClient:
    """One httpx client for the ATS; each method is one step of the contract.

    `not_done_statuses` are the 5xx/429 answers that mean the ATS did not act, so that a
    create answered with one is sent again (see `outcomes`); any other 5xx on a create is
    held as unknown.
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0,
                 verify: bool | str = True, auth_header: str = "Authorization",
                 auth_scheme: str = "Bearer", transport: httpx.BaseTransport | None = None,
                 retry: RetryPolicy | None = None, breaker: CircuitBreaker | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 rng: Uniform | None = None,
                 not_done_statuses: Collection[int] = DEFAULT_NOT_DONE_STATUSES,
                 observe: Callable[[str, str], None] | None = None,
                 stopped: Callable[[], bool] | None = None):
        self._token = token
        self._timeout, self._stopped = timeout, stopped or never
        self.observe = observe or _unobserved
        self._not_done = check_not_done_statuses(not_done_statuses)
        self._retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._sleep, self._clock, self._rng = sleep, clock, rng or random.Random()  # noqa: S311
        credential = f"{auth_scheme} {token}" if auth_scheme else token
        self._http = bound(httpx.Client(
            base_url=base_url, transport=transport, verify=_tls_context(verify),
            timeout=httpx.Timeout(timeout), follow_redirects=False,
            headers={auth_header: credential, "Accept": "application/json",
                     "User-Agent": f"ats-inbox/{__version__}"},
        ))

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
        """Does the ATS answer at all right now? One read of the sources, no retries.

        Tells an outage (stop starting messages) from a failure of one message (count it
        against that message). The probe is sent even while the circuit is open: the circuit
        remembers past failures (perhaps of one endpoint, perhaps of an outage that is over),
        the probe tells the present. A readable answer closes the circuit, so the next
        message is tried at once; a failure leaves the circuit as it was. A refusal (401,
        403, ...) is no answer either. Raises AtsMisdirected when the server at ats.base_url
        is not the ATS (404, a redirect, an HTML page).
        """
        try:
            self._attempt(Effect.READ, "probe", "GET", SOURCES, read_list)
        except (AtsUnavailable, OutcomeUnknown, AtsRejected):
            return False
        self.breaker.reset()
        return True

    # -- steps 4-7: creates ---------------------------------------------------------------

    def upload_cv(self, filename: str, data: bytes, content_type: str) -> UploadedCv:
        """Upload one CV file (multipart field `file`); safe to repeat. The file is given to httpx as
        a file object (over the same bytes, not a copy), so it is sent 64 KB at a time: bytes would
        be sent as one chunk, copied whole by h11 and again by each partial socket write."""
        files = {"file": (filename, io.BytesIO(data), content_type)}  # rewound by httpx for each attempt
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
        return self._create("create applicant", APPLICANT, "applicant", body,
                            sent={"email": email.strip().lower()})

    def create_candidate(self, *, job_id: IdLike, applicant_id: IdLike, pipeline_id: IdLike,
                         stage_id: IdLike, source_id: IdLike) -> AtsId:
        """Put the applicant on the job, in the given pipeline stage; returns the candidate id."""
        body = {"job_id": _wire(job_id), "applicant_id": _wire(applicant_id),
                "pipeline_id": _wire(pipeline_id), "pipeline_stage_id": _wire(stage_id),
                "source_id": _wire(source_id)}
        return self._create("create candidate", CANDIDATE, "candidate", body,
                            sent={"applicant": str(AtsId.of(applicant_id)), "job": str(AtsId.of(job_id))})

    def add_comment(self, candidate_id: IdLike, text: str) -> AtsId:
        """Add a plain-text comment to a candidate; returns the action id."""
        comment = _plain(text)
        if not comment:
            raise ValueError("a comment needs some text")
        path = ACTIONS.format(candidate_id=quote(str(AtsId.of(candidate_id)), safe=""))
        return self._create("add comment", path, "action", {"comment": comment})

    def _create(self, what: str, path: str, thing: str, body: dict[str, Any],
                sent: Mapping[str, str] | None = None) -> AtsId:
        """POST a create; its id. Where the answer says which person or job it is about
        (`sent`: the email, the applicant and job ids sent), it must be the ones sent."""
        def read(answer: Any) -> AtsId:
            obj = read_object(answer)
            ats_id = read_id(obj, thing)
            _check_echo(what, thing, ats_id, obj, sent or {})
            return ats_id

        return self._call(Effect.CREATE, what, "POST", path, read, json=body)

    # -- one call: breaker, retries, translation -----------------------------------------

    def _call(self, effect: Effect, what: str, method: str, url: str,
              read: Callable[[Any], T], **kwargs: Any) -> T:
        def attempt() -> T:
            return self._attempt(effect, what, method, url, read, **kwargs)

        def wait(seconds: float) -> None:
            self.observe(what, "retry")
            self._sleep(seconds)

        return call_with_retry(lambda: self.breaker.call(attempt), self._retry,
                               sleep=wait, clock=self._clock, rng=self._rng)

    def _attempt(self, effect: Effect, what: str, method: str, url: str,
                 read: Callable[[Any], T], **kwargs: Any) -> T:
        response = self._send(effect, what, method, url, **kwargs)
        return self._answer(effect, what, response, read)

    def _send(self, effect: Effect, what: str, method: str, url: str,
              **kwargs: Any) -> httpx.Response:
        request = self._http.build_request(method, url, **kwargs)
        stopped = never if effect is Effect.CREATE else self._stopped
        try:
            response = exchange(self._http, request, seconds=self._timeout, clock=self._clock,
                                stopped=stopped, limit=MAX_ANSWER_BYTES)
        except (httpx.TransportError, httpx.DecodingError) as exc:
            self.observe(what, "error")
            log.warning("ats.transport.failed", extra={"step": what, "error": type(exc).__name__})
            raise _transport_error(effect, what, exc) from exc
        except AnswerTooLarge as exc:
            self.observe(what, "error")
            log.error("ats.answer.too_large", extra={"step": what, "limit": exc.limit})
            raise _too_large(effect, what, request, exc) from exc
        self.observe(what, str(response.status_code))
        return response

    def _answer(self, effect: Effect, what: str, response: httpx.Response,
                read: Callable[[Any], T]) -> T:
        log.debug("ats.response", extra={"step": what, "status": response.status_code})
        if not response.is_success:
            raise self._refusal(effect, what, response)
        if effect is Effect.READ and _is_html(response):
            raise self._misdirected(response, f"answered {response.status_code} with an HTML "
                                              "page, not the ATS's JSON")
        try:
            return read(response.json())
        except ValueError as exc:  # not JSON, or ShapeError
            log.warning("ats.answer.unreadable",
                        extra={"step": what, "status": response.status_code})
            raise _failed(effect, UNREADABLE_2XX, f"ATS {what}: answered {response.status_code} "
                          f"but the answer could not be read ({_reason(exc)})") from exc

    def _refusal(self, effect: Effect, what: str, response: httpx.Response) -> AtsInboxError:
        status = response.status_code
        if 300 <= status < 400 and (status != 303 or effect is Effect.READ):
            return self._redirected(effect, response)
        if effect is Effect.READ and _not_the_ats(response):
            seen = " with an HTML page, not the ATS's JSON" if _is_html(response) else ""
            return self._misdirected(response, f"answered {status}{seen}")
        failure = status_failure(status, self._not_done)
        detail = _error_detail(response, self._token)
        suffix = f": {detail}" if detail else ""
        if failure is None:
            return AtsRejected(f"ATS {what}: refused ({status}){suffix}", status=status)
        not_done = verdict(failure) is NOT_DONE
        if status == 429 and (not_done or effect is not Effect.CREATE):
            return AtsRateLimited(f"ATS {what}: rate limited (429){suffix}",
                                  retry_after=_retry_after(response))
        wait = _retry_after(response) if not_done else None
        return _failed(effect, failure, f"ATS {what}: {_status_text(status)} ({status}) after "
                                        f"the request was sent{suffix}", retry_after=wait)

    def _misdirected(self, response: httpx.Response, seen: str) -> AtsMisdirected:
        where = f"{response.request.method} {_shown(response.request.url)}"
        log.error("ats.misdirected", extra={"status": response.status_code})
        return AtsMisdirected(f"{where} {seen}: check ats.base_url ({BASE_URL_HINT})")

    def _redirected(self, effect: Effect, response: httpx.Response) -> AtsMisdirected:
        """A 3xx, never followed: the token stays with the configured host."""
        request = response.request
        target = _location(response)
        nothing = "" if effect is Effect.READ else " (nothing was created: redirects are not followed)"
        where = f"{request.method} {_shown(request.url)} was redirected ({response.status_code})"
        if target is None:
            return AtsMisdirected(f"{where} without a Location{nothing}: check ats.base_url")
        shown = _clean(_shown(target), self._token)
        base = self._base_behind(request.url, target)
        advice = f"use {_clean(base, self._token)} in ats.base_url" if base else (
            f"check ats.base_url ({BASE_URL_HINT})")
        log.error("ats.misdirected", extra={"status": response.status_code})
        return AtsMisdirected(f"{where} to {shown}{nothing}: {advice}")

    def _base_behind(self, sent: httpx.URL, target: httpx.URL) -> str:
        """The base URL the redirect points at: `target` less the API path we asked for."""
        prefix = self._http.base_url.path.rstrip("/")
        api_path = sent.path.removeprefix(prefix)
        if not api_path.startswith("/api/") or not target.path.endswith(api_path):
            return ""
        root = target.copy_with(userinfo=b"", query=None, fragment=None,
                                path=target.path.removesuffix(api_path) or "/")
        return str(root).rstrip("/")


def _unobserved(step: str, status: str) -> None:
    pass


def _check_echo(what: str, thing: str, ats_id: AtsId, obj: Mapping[str, Any], sent: Mapping[str, str]) -> None:
    """Raise OutcomeUnknown when a create's answer is about another person or job than the one
    sent (an ATS that answers an applicant create with an existing applicant of another address):
    the mail must not be recorded on someone else, and what the ATS did is unknown."""
    wrong = [(field, said, value) for field, value in sent.items()
             if (said := echoed(obj, field)) is not None and said != value]
    if not wrong:
        return
    log.error("ats.answer.foreign", extra={"step": what, "fields": [field for field, _, _ in wrong]})
    differs = "; ".join(f"its {field} is {said}, not {value} as sent" for field, said, value in wrong)
    raise OutcomeUnknown(f"ATS {what}: answered with {thing} {ats_id}, which belongs to someone or something "
                         f"else ({differs}); held for a person to check in the ATS")


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
    failure = transport_failure(exc)
    said = str(exc)
    if said.startswith(("no complete answer", "stopping")):  # the deadline, or a stop (`bounded`)
        return _failed(effect, failure, f"ATS {what}: {said}")
    if not failure.sent:
        return _failed(effect, failure, f"ATS {what}: not sent, cannot connect ({name})")
    return _failed(effect, failure, f"ATS {what}: the answer was lost after sending ({name})")


def _too_large(effect: Effect, what: str, request: httpx.Request, exc: AnswerTooLarge) -> AtsInboxError:
    """An answer no real ATS gives: about the ATS on a read (the pass stops, mail stays pending),
    an unknown outcome on a create, a retry on an upload."""
    message = (f"{request.method} {_shown(request.url)} answered more than {exc.limit} bytes and was "
               "read no further: the ATS is misbehaving")
    if effect is Effect.READ:
        return AtsMisdirected(f"{message} (no answer of the contract is this large; check ats.base_url)")
    return _failed(effect, UNREADABLE_2XX, f"ATS {what}: {message}")


def _failed(effect: Effect, failure: Failure, message: str, *,
            retry_after: float | None = None) -> AtsInboxError:
    """The error for a failed call, by the outcome table's verdict: a create that may have
    happened is OutcomeUnknown; anything else is safe to repeat, so AtsUnavailable."""
    if verdict(failure) is not NOT_DONE and effect is Effect.CREATE:
        return OutcomeUnknown(message)
    return AtsUnavailable(message, retry_after=retry_after)


def _status_text(status: int) -> str:
    return {429: "rate limited", 503: "unavailable", 504: "gateway timeout",
            303: "see other"}.get(status, "server error")


def _not_the_ats(response: httpx.Response) -> bool:
    """A directory read's answer that no ATS would give: a 404, or a 2xx/4xx HTML page
    (401 and 403 are the ATS refusing the token; a 5xx page is an outage)."""
    status = response.status_code
    if status == 404:
        return True
    return status < 500 and status not in (401, 403, 429) and _is_html(response)


def _location(response: httpx.Response) -> httpx.URL | None:
    location = response.headers.get("Location", "").strip()
    try:
        return response.request.url.join(location) if location else None
    except httpx.InvalidURL:
        return None


def _is_html(response: httpx.Response) -> bool:
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return kind in HTML_TYPES


def _shown(url: httpx.URL) -> str:
    """A URL for a message: no user info, no query."""
    return str(url.copy_with(userinfo=b"", query=None, fragment=None))


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
    """Server text for a message: the token redacted, one line, cut short.

    A token of MIN_REDACTED_SUBSTRING characters or more is redacted wherever it occurs; a
    shorter one only where it stands as a word, so that a token like "t" leaves "timeout"
    alone."""
    if len(token) >= MIN_REDACTED_SUBSTRING:
        text = text.replace(token, "[redacted]")
    elif token:
        word = rf"(?<!{_WORD_CHARS}){re.escape(token)}(?!{_WORD_CHARS})"
        text = re.sub(word, "[redacted]", text)
    text = _SPACE.sub(" ", _CONTROL.sub(" ", text)).strip()
    return text[:MAX_DETAIL_CHARS]


def _plain(text: str) -> str:
    """Comment text: no control characters (newlines and tabs kept), capped in length."""
    return _CONTROL.sub("", text.replace("\r\n", "\n")).strip()[:MAX_COMMENT_CHARS]

"""The sandbox's API: the contract's seven calls over a `SandboxState`, requests in and
answers out (no sockets), in the "plain" shape or the "variant" one for tolerant reading."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from email.utils import collapse_rfc2231_value
from typing import Any
from urllib.parse import urlencode

from daemon.sandbox.exchange import JSON_TYPE, Answer, Headers
from daemon.sandbox.state import Rejected, SandboxState, invalid

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
SEARCH = "/api/v1/jobs/search"


def json_answer(status: int, payload: Any, headers: Headers = ()) -> Answer:
    """A JSON answer."""
    return Answer(status, json.dumps(payload).encode(), JSON_TYPE, headers)


def error_answer(status: int, code: str, message: str, headers: Headers = ()) -> Answer:
    """The contract's JSON error body."""
    return json_answer(status, {"error": {"code": code, "message": message}}, headers)


@dataclass(frozen=True, slots=True)
class Route:
    """One API call: method, path template (`{name}` is one segment) and handler name."""

    method: str
    template: str
    name: str
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        object.__setattr__(self, "pattern", re.compile(regex))


ROUTES = (
    Route("POST", SEARCH, "search_jobs"),
    Route("GET", "/api/v1/pipelines/all", "pipelines"),
    Route("GET", "/api/v1/sources/all", "sources"),
    Route("POST", "/api/v1/upload-cv-file", "upload_cv"),
    Route("POST", "/api/v1/applicant", "applicant"),
    Route("POST", "/api/v1/candidate", "candidate"),
    Route("POST", "/api/v1/candidates/{id}/actions", "add_action"),
    Route("DELETE", "/api/v1/candidates/{id}/actions/{action_id}", "delete_action"),
)


def match_route(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """The route for a request, its path parameters, and whether the path exists at all."""
    found = [(route, m) for route in ROUTES if (m := route.pattern.fullmatch(path))]
    for route, m in found:
        if route.method == method:
            return route, m.groupdict(), True
    return None, {}, bool(found)


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """What an API handler needs from one HTTP request."""

    params: dict[str, str]
    query: dict[str, list[str]]
    content_type: str
    body: bytes


class Api:
    """The seven calls over a `SandboxState`, answered in the "plain" or "variant" shape."""

    def __init__(self, state: SandboxState, shape: str):
        self.state, self.variant = state, shape == "variant"

    def answer(self, route: Route, request: ApiRequest) -> Answer:
        """Run the call; a rule the request breaks becomes its JSON error."""
        try:
            return getattr(self, route.name)(request)
        except Rejected as exc:
            return error_answer(exc.status, exc.code, exc.message)

    def _ok(self, payload: Any, status: int = 200) -> Answer:
        return json_answer(status, ids_as_strings(payload) if self.variant else payload)

    def _created(self, thing: str, record_id: Any) -> Answer:
        if not self.variant:
            return self._ok({"id": record_id}, 201)
        wrapped = {"applicant": False, "candidate": True, "action": True}[thing]
        key = "id" if thing == "action" else f"{thing}_id"
        return self._ok({"data": {key: record_id}} if wrapped else {key: record_id})

    def search_jobs(self, request: ApiRequest) -> Answer:
        body = _json_object(request.body, empty_ok=True)
        query, page, per_page = _search_terms(body, request.query)
        jobs = self.state.jobs(query)
        items = jobs[(page - 1) * per_page: page * per_page]
        if not self.variant:
            return self._ok({"items": items, "page": page, "per_page": per_page,
                             "total": len(jobs)})
        more = page * per_page < len(jobs)
        nxt = f"{SEARCH}?{urlencode({'page': page + 1, 'per_page': per_page})}" if more else None
        return self._ok({"data": items, "page": page, "next": nxt})

    def pipelines(self, request: ApiRequest) -> Answer:
        items = self.state.pipelines()
        return self._ok(items if self.variant else {"items": items})

    def sources(self, request: ApiRequest) -> Answer:
        items = self.state.sources()
        return self._ok({"data": items} if self.variant else {"items": items})

    def upload_cv(self, request: ApiRequest) -> Answer:
        parts = parse_multipart(request.content_type, request.body)
        if "file" not in parts:
            raise invalid("the file must be in the multipart field 'file'")
        filename, data = parts["file"]
        cv, parsed = self.state.add_cv(filename or "", data)
        payload = {"cv_id": cv["id"], "parsed": parsed}
        return self._ok({"data": payload}) if self.variant else self._ok(payload, 201)

    def applicant(self, request: ApiRequest) -> Answer:
        applicant = self.state.add_applicant(_json_object(request.body))
        return self._created("applicant", applicant["id"])

    def candidate(self, request: ApiRequest) -> Answer:
        candidate = self.state.add_candidate(_json_object(request.body))
        return self._created("candidate", candidate["id"])

    def add_action(self, request: ApiRequest) -> Answer:
        action = self.state.add_action(request.params["id"], _json_object(request.body))
        return self._created("action", action["id"])

    def delete_action(self, request: ApiRequest) -> Answer:
        self.state.delete_action(request.params["id"], request.params["action_id"])
        return Answer(204, content_type="")


def ids_as_strings(value: Any) -> Any:
    """`value` with every id (`id`, `*_id`, `cv_ids`) written as a string."""
    if isinstance(value, list):
        return [ids_as_strings(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: _id_text(item) if _is_id_key(key) else ids_as_strings(item)
            for key, item in value.items()}


def _is_id_key(key: str) -> bool:
    return key == "id" or key.endswith(("_id", "_ids"))


def _id_text(value: Any) -> Any:
    if isinstance(value, list):
        return [_id_text(item) for item in value]
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _json_object(raw: bytes, *, empty_ok: bool = False) -> dict[str, Any]:
    if empty_ok and not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Rejected(400, "bad_request", "the body is not JSON") from exc
    if not isinstance(body, dict):
        raise Rejected(400, "bad_request", "the body must be a JSON object")
    return body


def _search_terms(body: dict[str, Any], query: dict[str, list[str]]) -> tuple[str, int, int]:
    """query, page and per_page; the URL's `page`/`per_page` (from a `next` link) win."""
    text = body.get("query") or ""
    if not isinstance(text, str):
        raise invalid("query must be a string")
    page = _count(_param(query, body, "page", 1), "page", 10**6)
    per_page = _count(_param(query, body, "per_page", DEFAULT_PER_PAGE), "per_page", MAX_PER_PAGE)
    return text, page, per_page


def _param(query: dict[str, list[str]], body: dict[str, Any], name: str, default: int) -> Any:
    return query[name][0] if name in query else body.get(name, default)


def _count(value: Any, name: str, limit: int) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise invalid(f"{name} must be an integer from 1 to {limit}")
    return value


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The parts of a multipart/form-data body by field name: (file name, exact bytes)."""
    header = Message()
    header["Content-Type"] = content_type
    boundary = header.get_boundary()
    if header.get_content_type() != "multipart/form-data" or not boundary:
        raise Rejected(400, "bad_request", "expected a multipart/form-data body")
    sections = (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))
    parts: dict[str, tuple[str | None, bytes]] = {}
    for section in sections[1:]:
        if section.startswith(b"--"):
            return parts
        head, blank, content = section.partition(b"\r\n\r\n")
        if not blank:
            break
        # browsers and httpx send file names as raw UTF-8
        text = head.lstrip(b" \t\r\n").decode("utf-8", "replace")
        headers = HeaderParser().parsestr(text + "\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if name is not None:
            parts.setdefault(collapse_rfc2231_value(name), (headers.get_filename(), content))
    raise Rejected(400, "bad_request", "the multipart body is malformed")

"""Tolerant reading of ATS answers (pure functions, no I/O).

The real response shapes are unknown, so every variant the contract allows is read:
- a list: a bare array, or under `items`, `data` or `results` (also `{"data": {"items": [...]}}`);
- an object: bare, or wrapped as `{"data": {...}}`;
- an id: `id` or `<thing>_id`, an integer or a string, kept as received (`AtsId`);
- paging: `next` (a page number or a URL), else `total` (an item count), else "a full
  page means there may be more".
Unknown fields are ignored. A body that fits none of these raises `ShapeError`, which the
client turns into the exception that suits the call.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeGuard
from urllib.parse import parse_qs, urlsplit

from daemon.ats.models import AtsId, Job, Pipeline, Source, Stage, UploadedCv

LIST_KEYS = ("items", "data", "results")
DATA_KEY = "data"


class ShapeError(ValueError):
    """The answer is JSON but not in any shape the contract allows."""


def read_list(body: Any) -> list[dict[str, Any]]:
    """The objects of a list answer, whichever of the allowed wrappings it uses."""
    items = _unwrap_list(body, depth=2)
    if items is None:
        raise ShapeError(f"expected a list of objects, got {_kind(body)}")
    if not all(isinstance(item, dict) for item in items):
        raise ShapeError("expected a list of objects, found a non-object entry")
    return items


def _unwrap_list(body: Any, depth: int) -> list[Any] | None:
    if isinstance(body, list):
        return body
    if not isinstance(body, dict) or depth == 0:
        return None
    for key in LIST_KEYS:
        if key in body:
            found = _unwrap_list(body[key], depth - 1)
            if found is not None:
                return found
    return None


def read_object(body: Any) -> dict[str, Any]:
    """The object of an object answer; `{"data": {...}}` is unwrapped unless it has an id."""
    if not isinstance(body, dict):
        raise ShapeError(f"expected an object, got {_kind(body)}")
    inner = body.get(DATA_KEY)
    if isinstance(inner, dict) and not _has_id_key(body):
        return inner
    return body


def _has_id_key(obj: Mapping[str, Any]) -> bool:
    return any(key == "id" or key.endswith("_id") for key in obj)


def read_id(obj: Mapping[str, Any], thing: str) -> AtsId:
    """The id of `obj`: `id`, else `<thing>_id`, else the same inside a `data` object.

    An id is an integer or a non-empty string, kept with the type it came in.
    """
    inner = obj.get(DATA_KEY)
    for where in (obj, inner if isinstance(inner, dict) else {}):
        for key in ("id", f"{thing}_id"):
            value = where.get(key)
            if _is_id(value):
                return AtsId(value)
    raise ShapeError(f"no usable {thing} id (looked for 'id' and '{thing}_id')")


def _is_id(value: Any) -> TypeGuard[int | str]:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and bool(value.strip()))


def echoed(obj: Mapping[str, Any], field: str) -> str | None:
    """What a create's answer says of a field that was sent, as text, or None when it does not say.

    `email` is read as text (lower case); `applicant` and `job` as the id under `<field>_id`
    or in a nested object's `id` (an answer may carry the applicant or job it is about)."""
    if field == "email":
        value = obj.get("email")
        return value.strip().lower() if isinstance(value, str) and value.strip() else None
    value = obj.get(f"{field}_id")
    if _is_id(value):
        return str(value).strip()
    nested = obj.get(field)
    if isinstance(nested, dict) and _is_id(nested.get("id")):
        return str(nested["id"]).strip()
    return None


def read_text(obj: Mapping[str, Any], key: str) -> str:
    """A text field, or "" when absent or not text (numbers are written out)."""
    value = obj.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def read_position(obj: Mapping[str, Any]) -> int | None:
    """A stage position: an integer, or a string of digits; anything else is no position."""
    value = obj.get("position")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def read_job(item: Mapping[str, Any]) -> Job:
    """A job from a search result: `id`, `title`, `pipeline_id` (or `pipeline.id`), ..."""
    return Job(
        id=read_id(item, "job"),
        title=read_text(item, "title"),
        pipeline_id=_read_ref(item, "pipeline"),
        status=read_text(item, "status"),
        code=read_text(item, "code"),
    )


def _read_ref(item: Mapping[str, Any], thing: str) -> AtsId:
    value = item.get(f"{thing}_id")
    if _is_id(value):
        return AtsId(value)
    nested = item.get(thing)
    if isinstance(nested, dict):
        return read_id(nested, thing)
    raise ShapeError(f"no {thing} id (looked for '{thing}_id' and '{thing}.id')")


def read_pipeline(item: Mapping[str, Any]) -> Pipeline:
    """A pipeline with its stages; stages without an id are left out."""
    raw = item.get("stages")
    stages = read_list(raw) if raw is not None else []
    kept = tuple(
        Stage(read_id(stage, "stage"), read_text(stage, "name"), read_position(stage))
        for stage in stages
        if _has_usable_id(stage, "stage")
    )
    return Pipeline(read_id(item, "pipeline"), read_text(item, "name"), kept)


def _has_usable_id(obj: Mapping[str, Any], thing: str) -> bool:
    return _is_id(obj.get("id")) or _is_id(obj.get(f"{thing}_id"))


def read_source(item: Mapping[str, Any]) -> Source:
    """A source: `id` and `name`."""
    return Source(read_id(item, "source"), read_text(item, "name"))


def read_uploaded_cv(body: Any) -> UploadedCv:
    """The upload answer: `cv_id` (or `id`, or a one-item `cv_ids`) and optional `parsed`."""
    obj = read_object(body)
    try:
        cv_id = read_id(obj, "cv")
    except ShapeError:
        ids = obj.get("cv_ids")
        if not (isinstance(ids, list) and ids and _is_id(ids[0])):
            raise
        cv_id = AtsId(ids[0])
    return UploadedCv(cv_id, _read_parsed(obj.get("parsed")))


def _read_parsed(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    fields = {str(key): read_text(value, key) for key in value}
    return {key: text.strip() for key, text in fields.items() if text.strip()}


def next_page(body: Any, *, page: int, per_page: int, seen: int, got: int) -> int | str | None:
    """Where the next page is: a page number, a URL, or None when this was the last.

    `seen` counts the items collected so far (this page included), `got` this page's.
    """
    if isinstance(body, dict) and "next" in body:
        return _read_next(body["next"])
    total = body.get("total") if isinstance(body, dict) else None
    if isinstance(total, int) and not isinstance(total, bool):
        return page + 1 if got > 0 and seen < total else None
    return page + 1 if got >= per_page else None


def _read_next(value: Any) -> int | str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    if value.strip().isdigit():
        return int(value)
    pages = parse_qs(urlsplit(value).query).get("page", [])
    return int(pages[0]) if pages and pages[0].isdigit() else value.strip()


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), never < 0."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC with no claim about local time
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _kind(body: Any) -> str:
    return "an empty answer" if body is None else type(body).__name__

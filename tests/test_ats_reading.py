"""Tolerant reading of ATS answers and the ATS data model (pure, no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from daemon.ats.models import AtsId, Job, Pipeline, Stage, UploadedCv
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

ITEMS = [{"id": 1}, {"id": "b"}]


@pytest.mark.parametrize(
    "body",
    [
        ITEMS,
        {"items": ITEMS, "page": 1},
        {"data": ITEMS},
        {"results": ITEMS, "total": 2},
        {"data": {"items": ITEMS}},
        {"meta": {}, "results": ITEMS, "extra": "ignored"},
    ],
    ids=["bare", "items", "data", "results", "data.items", "unknown-fields"],
)
def test_read_list_accepts_every_allowed_wrapping(body):
    """A list answer is read whether bare or under items, data or results."""
    assert read_list(body) == ITEMS


@pytest.mark.parametrize(
    "body",
    [None, "text", 3, {"id": 1}, {"items": "nope"}, [1, 2], [{"id": 1}, "x"]],
    ids=["null", "string", "number", "object", "items-not-list", "scalars", "mixed"],
)
def test_read_list_refuses_other_shapes(body):
    """A body that is not a list of objects in an allowed wrapping is a ShapeError."""
    with pytest.raises(ShapeError):
        read_list(body)


def test_read_list_of_an_empty_list_is_empty():
    """An empty list (bare or wrapped) is a valid, empty answer."""
    assert read_list([]) == []
    assert read_list({"items": []}) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"id": 5, "name": "x"}, {"id": 5, "name": "x"}),
        ({"data": {"id": 5}}, {"id": 5}),
        ({"data": {"id": 5}, "meta": {"request": "r1"}}, {"id": 5}),
        ({"cv_id": 9, "data": {"first_name": "Ada"}}, {"cv_id": 9, "data": {"first_name": "Ada"}}),
        ({"data": "text"}, {"data": "text"}),
    ],
    ids=["bare", "wrapped", "wrapped-with-meta", "id-beside-data", "data-not-object"],
)
def test_read_object_unwraps_data_only_when_it_is_the_object(body, expected):
    """`{"data": {...}}` is unwrapped; an object that has its own id keeps its `data` field."""
    assert read_object(body) == expected


@pytest.mark.parametrize("body", [None, [], [{"id": 1}], "x"])
def test_read_object_refuses_non_objects(body):
    """An object answer that is not a JSON object is a ShapeError."""
    with pytest.raises(ShapeError):
        read_object(body)


@pytest.mark.parametrize(
    ("obj", "thing", "wire"),
    [
        ({"id": 7}, "applicant", 7),
        ({"id": "7"}, "applicant", "7"),
        ({"applicant_id": 8}, "applicant", 8),
        ({"cv_id": "c-1"}, "cv", "c-1"),
        ({"id": 1, "cv_id": 2}, "cv", 1),
        ({"candidate_id": 0}, "candidate", 0),
        ({"data": {"id": 3}, "job_id": 4}, "candidate", 3),
        ({"id": "", "cv_id": "x"}, "cv", "x"),
    ],
    ids=["int", "str", "thing_id", "cv_id", "id-first", "zero", "inside-data", "empty-id-skipped"],
)
def test_read_id_variants_keep_the_json_type(obj, thing, wire):
    """An id is `id` or `<thing>_id`, int or str, and keeps the type it was received with."""
    got = read_id(obj, thing)
    assert got.wire == wire
    assert type(got.wire) is type(wire)


@pytest.mark.parametrize(
    "obj",
    [{}, {"id": None}, {"id": True}, {"id": "  "}, {"id": 1.5}, {"job_id": 3}, {"id": [1]}],
    ids=["missing", "null", "bool", "blank", "float", "other-thing", "list"],
)
def test_read_id_refuses_unusable_ids(obj):
    """No usable id (missing, null, bool, blank, float, another thing's id) is a ShapeError."""
    with pytest.raises(ShapeError):
        read_id(obj, "candidate")


def test_shape_error_is_a_value_error():
    """The client can catch ShapeError together with JSON decoding errors."""
    assert issubclass(ShapeError, ValueError)


@pytest.mark.parametrize(
    ("body", "page", "seen", "got", "expected"),
    [
        ({"items": [], "next": None}, 1, 100, 100, None),
        ({"items": [], "next": 2}, 1, 100, 100, 2),
        ({"items": [], "next": "3"}, 2, 200, 100, 3),
        ({"items": [], "next": "https://a.test/api/v1/jobs/search?page=4&x=1"}, 3, 300, 100, 4),
        ({"items": [], "next": "/api/v1/jobs/search?cursor=abc"}, 1, 100, 100,
         "/api/v1/jobs/search?cursor=abc"),
        ({"items": [], "next": ""}, 1, 100, 100, None),
        ({"items": [], "next": False}, 1, 100, 100, None),
        ({"items": [], "page": 1, "total": 250}, 1, 100, 100, 2),
        ({"items": [], "page": 3, "total": 250}, 3, 250, 50, None),
        ({"items": [], "total": 250}, 2, 200, 0, None),
        ([{}] * 100, 1, 100, 100, 2),
        ([{}] * 99, 1, 99, 99, None),
        ({"items": []}, 1, 0, 0, None),
    ],
    ids=["next-null", "next-int", "next-digits", "next-url-with-page", "next-url-cursor",
         "next-empty", "next-false", "total-more", "total-reached", "total-but-empty-page",
         "bare-full-page", "bare-short-page", "no-info-empty"],
)
def test_next_page(body, page, seen, got, expected):
    """`next` wins, then `total` (an item count), else a full page means there may be more."""
    assert next_page(body, page=page, per_page=100, seen=seen, got=got) == expected


NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        ("Sat, 28 Nov 2026 12:00:30 GMT", 30.0),
        ("Sat, 28 Nov 2026 11:00:00 GMT", 0.0),
        ("Sat, 28 Nov 2026 12:01:00 -0000", 60.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
    ids=["seconds", "zero", "http-date", "http-date-literal", "past-date-clamped",
         "minus-zero-zone", "absent", "empty", "garbage", "negative", "fraction"],
)
def test_parse_retry_after_both_forms(value, expected):
    """Retry-After is delta-seconds or an HTTP-date (RFC 9110 10.2.3), clamped at 0."""
    assert parse_retry_after(value, NOW) == expected


def test_read_job_reads_the_known_fields_and_ignores_the_rest():
    """A job keeps id, title, pipeline_id, status and code; other fields are ignored."""
    job = read_job({"id": 12, "title": "Data Engineer", "pipeline_id": "p-1", "status": "Open",
                    "code": "DE-7", "department": "IT", "location": {"city": "Oslo"}})
    assert job == Job(AtsId(12), "Data Engineer", AtsId("p-1"), "Open", "DE-7")


def test_read_job_takes_a_nested_pipeline():
    """A job may name its pipeline as `pipeline: {id: ...}` instead of `pipeline_id`."""
    assert read_job({"job_id": "j", "title": "T", "pipeline": {"id": 3}}).pipeline_id == AtsId(3)


def test_read_job_without_pipeline_is_a_shape_error():
    """A job without a pipeline cannot take candidates: ShapeError."""
    with pytest.raises(ShapeError):
        read_job({"id": 1, "title": "T"})


def test_read_pipeline_reads_stages_and_skips_stages_without_id():
    """Stages keep id, name and position (digits accepted); a stage without an id is dropped."""
    pipeline = read_pipeline({"id": 1, "name": "Default", "stages": [
        {"id": 10, "name": "New", "position": "2"},
        {"name": "ghost", "position": 0},
        {"stage_id": "s", "name": "Screen", "position": True},
    ]})
    assert pipeline.stages == (Stage(AtsId(10), "New", 2), Stage(AtsId("s"), "Screen", None))


def test_read_pipeline_without_stages_has_none():
    """A pipeline may come without a stage list."""
    assert read_pipeline({"pipeline_id": 4, "name": "Empty"}).stages == ()


def test_read_source():
    """A source is an id and a name."""
    source = read_source({"source_id": "s1", "name": "Email", "kind": "inbound"})
    assert (source.id, source.name) == (AtsId("s1"), "Email")


@pytest.mark.parametrize(
    ("body", "wire"),
    [({"cv_id": 5}, 5), ({"id": "cv-5"}, "cv-5"), ({"data": {"cv_id": 6}}, 6),
     ({"cv_ids": [7]}, 7), ({"data": {"cv_ids": ["x"]}}, "x")],
    ids=["cv_id", "id", "wrapped", "cv_ids-list", "wrapped-cv_ids"],
)
def test_read_uploaded_cv_id_variants(body, wire):
    """The upload answer's id may be cv_id, id, wrapped in data, or a one-item cv_ids list."""
    assert read_uploaded_cv(body).cv_id.wire == wire


def test_read_uploaded_cv_keeps_text_fields_of_parsed():
    """`parsed` keeps non-empty text (numbers written out); other values are dropped."""
    cv = read_uploaded_cv({"cv_id": 1, "parsed": {"first_name": " Ada ", "phone": 4712345678,
                                                  "skills": ["x"], "email": ""}})
    assert dict(cv.parsed) == {"first_name": "Ada", "phone": "4712345678"}


def test_read_uploaded_cv_without_id_is_a_shape_error():
    """An upload answer with no id at all is a ShapeError."""
    with pytest.raises(ShapeError):
        read_uploaded_cv({"cv_ids": [], "parsed": {}})


def _stages(*positions: int | None) -> Pipeline:
    stages = tuple(Stage(f"s{i}", f"S{i}", pos) for i, pos in enumerate(positions))
    return Pipeline("p", "P", stages)


@pytest.mark.parametrize(
    ("positions", "first"),
    [
        ((None, None, None), "s0"),
        ((3, 1, 2), "s1"),
        ((None, 5, None, 2), "s3"),
        ((2, 2, 1, 1), "s2"),
        ((0, -1), "s1"),
    ],
    ids=["no-positions-list-order", "lowest-position", "positioned-before-unpositioned",
         "ties-keep-list-order", "negative"],
)
def test_first_stage_ordering(positions, first):
    """Lowest position first; stages without a position come after, in list order."""
    assert str(_stages(*positions).first_stage().id) == first


def test_first_stage_of_an_empty_pipeline_is_none():
    """A pipeline without stages has no first stage."""
    assert Pipeline("p", "P").first_stage() is None


@pytest.mark.parametrize(
    ("status", "is_open"),
    [("", True), ("open", True), ("OPEN", True), (" Open ", True), ("closed", False),
     ("archived", False), ("draft", False), ("opened", False)],
)
def test_job_is_open(status, is_open):
    """A job is open when its status is absent or "open" in any case; anything else is not."""
    assert Job("1", "T", "p", status).is_open is is_open


def test_models_coerce_plain_ids():
    """Models built with a bare int or str id hold an AtsId with that wire value."""
    job = Job(3, "T", "p-1")
    assert job.id == AtsId(3)
    assert job.pipeline_id == AtsId("p-1")
    assert str(job.id) == "3"


def test_ats_ids_of_different_json_types_differ():
    """7 and "7" are different ids as received; both print as 7."""
    assert AtsId(7) != AtsId("7")
    assert str(AtsId(7)) == str(AtsId("7")) == "7"


@pytest.mark.parametrize("wire", [7, "7", "c-9", 0, 'quote"d'])
def test_ats_id_json_round_trip(wire):
    """`to_json`/`from_json` keep the JSON type, for the journal."""
    back = AtsId.from_json(AtsId(wire).to_json())
    assert back.wire == wire
    assert type(back.wire) is type(wire)


def test_ats_id_from_plain_text_is_a_string_id():
    """Text that is not JSON (an older journal row) is read as a string id."""
    assert AtsId.from_json("abc").wire == "abc"


@pytest.mark.parametrize("bad", [True, 1.5, None, "", "  ", [1]])
def test_ats_id_refuses_non_ids(bad):
    """An AtsId is an int or a non-empty str, never a bool, float, null or list."""
    with pytest.raises((TypeError, ValueError)):
        AtsId(bad)


def test_uploaded_cv_parsed_is_read_only():
    """The parsed fields of an uploaded CV cannot be changed afterwards."""
    cv = UploadedCv(AtsId(1), {"first_name": "Ada"})
    with pytest.raises(TypeError):
        cv.parsed["first_name"] = "Eve"  # type: ignore[index]

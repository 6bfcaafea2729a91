"""The sandbox ATS's records and rules, kept in one SQLite file (stdlib `sqlite3`).

Every record (job, pipeline, source, cv, applicant, candidate, action) is stored as its
JSON object under its id compared as a string, in insertion order; CV files sit beside
them as exact bytes, so the file is created readable by its owner only (SQLite gives its
-wal and -shm the same mode). The database is seeded from the seed file only while it is
empty, so the state survives restarts. Ids the sandbox hands out are integers from a per-kind
counter, in ranges that do not overlap (a client that mixes up ids gets a 422).

Rules are the contract's (`SandboxState.add_*`); a broken one raises `Rejected`, which
the server answers with its status and a JSON error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.errors import ConfigError
from daemon.files import private_dir, private_file

log = logging.getLogger(__name__)

DEFAULT_SEED = Path(__file__).resolve().parent / "seed.json"
SEED_KINDS = {"jobs": "job", "pipelines": "pipeline", "sources": "source"}
FIRST_ID = {"cv": 501, "applicant": 1001, "candidate": 2001, "action": 3001}
RESUME_TYPES = (
    (b"%PDF-", "application/pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/msword"),
    (b"PK\x03\x04", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
)
MAX_COMMENT_CHARS = 65_535
ACTION_FIELDS = ("comment", "pipeline_stage_id", "disqualification_reason_id", "reserved",
                 "datetime_action_date")
_EMAIL = re.compile(rb"[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}")
_AUTHOR = re.compile(rb"/Author\s*\(((?:\\.|[^\\)]){1,300})\)")  # a PDF's document information
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.DOTALL)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (kind, key)
);
CREATE TABLE IF NOT EXISTS cv_files (key TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counters (kind TEXT PRIMARY KEY, next INTEGER NOT NULL);
"""


class Rejected(Exception):
    """A request the sandbox refuses: HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str):
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


def invalid(message: str) -> Rejected:
    """A 422 validation error."""
    return Rejected(422, "validation_error", message)


def not_found(message: str) -> Rejected:
    """A 404."""
    return Rejected(404, "not_found", message)


# -- the seed ---------------------------------------------------------------------------


def load_seed(path: str | Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """The jobs, pipelines and sources of a seed file (default: the packaged seed.json).

    Raises ConfigError, naming the file, when it cannot be read or is not a valid seed.
    """
    where = Path(path) if path is not None else DEFAULT_SEED
    try:
        raw = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the sandbox seed: {exc}", path=str(where)) from exc
    problem = _seed_problem(raw)
    if problem:
        raise ConfigError(f"not a valid sandbox seed: {problem}", path=str(where))
    return {name: raw[name] for name in SEED_KINDS}


def _seed_problem(raw: Any) -> str:
    if not isinstance(raw, dict):
        return "the top level must be an object"
    for name in SEED_KINDS:
        items = raw.get(name)
        if not _all_have_ids(items):
            return f"'{name}' must be a list of objects, each with an integer or string 'id'"
        if len({str(i["id"]) for i in items}) != len(items):
            return f"'{name}' has duplicate ids"
    for pipeline in raw["pipelines"]:
        stages = pipeline.get("stages")
        if not _all_have_ids(stages):
            return f"pipeline {pipeline['id']!r}: 'stages' must be a list of objects with ids"
    pipelines = {str(p["id"]) for p in raw["pipelines"]}
    orphans = [job["id"] for job in raw["jobs"] if str(job.get("pipeline_id")) not in pipelines]
    return f"job(s) {orphans} name an unknown pipeline_id" if orphans else ""


def _all_have_ids(items: Any) -> bool:
    if not isinstance(items, list):
        return False
    return all(isinstance(item, dict) and is_id(item.get("id")) for item in items)


def is_id(value: Any) -> bool:
    """An id is an integer or a non-empty string (not a bool)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value != "")


def resume_type(data: bytes) -> str | None:
    """The media type of a PDF, DOC or DOCX judged by its first bytes; None otherwise."""
    return next((kind for magic, kind in RESUME_TYPES if data.startswith(magic)), None)


# -- storage ----------------------------------------------------------------------------


class _Database:
    """JSON records by (kind, key) plus CV bytes; one connection, one lock, BEGIN IMMEDIATE."""

    def __init__(self, path: Path):
        private_file(private_dir(path.parent) / path.name)  # CV bytes: owner only
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                     timeout=10)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction; reads inside it see a consistent state."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[None]:
        """One read transaction: several reads that see the same state."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield
            finally:
                self._conn.execute("COMMIT")

    def is_empty(self) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None

    def all(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            sql = "SELECT body FROM records WHERE kind = ? ORDER BY seq"
            rows = self._conn.execute(sql, (kind,)).fetchall()
        return [json.loads(body) for (body,) in rows]

    def get(self, kind: str, key: Any) -> dict[str, Any] | None:
        if not is_id(key):
            return None
        with self._lock:
            sql = "SELECT body FROM records WHERE kind = ? AND key = ?"
            row = self._conn.execute(sql, (kind, str(key))).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, body: dict[str, Any]) -> None:
        """Insert or replace the record `body` (keyed by its id); inside `write()`."""
        sql = ("INSERT INTO records (kind, key, body) VALUES (?, ?, ?) "
               "ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body")
        self._conn.execute(sql, (kind, str(body["id"]), json.dumps(body)))

    def delete(self, kind: str, key: Any) -> None:
        self._conn.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, str(key)))

    def new_id(self, kind: str) -> int:
        """The next id for `kind`; inside `write()`."""
        row = self._conn.execute("SELECT next FROM counters WHERE kind = ?", (kind,)).fetchone()
        value = row[0] if row else FIRST_ID[kind]
        sql = "INSERT OR REPLACE INTO counters (kind, next) VALUES (?, ?)"
        self._conn.execute(sql, (kind, value + 1))
        return value

    def put_file(self, key: Any, data: bytes) -> None:
        self._conn.execute("INSERT INTO cv_files (key, data) VALUES (?, ?)", (str(key), data))

    def file(self, key: Any) -> bytes | None:
        with self._lock:
            sql = "SELECT data FROM cv_files WHERE key = ?"
            row = self._conn.execute(sql, (str(key),)).fetchone()
        return bytes(row[0]) if row else None


# -- the ATS ----------------------------------------------------------------------------


class SandboxState:
    """The ATS's data and rules; every method is safe to call from many threads."""

    def __init__(self, db_path: str | Path, seed: dict[str, list[dict[str, Any]]]):
        self._db = _Database(Path(db_path))
        if self._db.is_empty():
            self._seed(seed)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def _seed(self, seed: dict[str, list[dict[str, Any]]]) -> None:
        with self._db.write():
            for name, kind in SEED_KINDS.items():
                for item in seed[name]:
                    self._db.put(kind, item)
        log.info("sandbox.seeded", extra={n: len(seed[n]) for n in SEED_KINDS})

    # -- directory reads --------------------------------------------------------------

    def jobs(self, query: str = "") -> list[dict[str, Any]]:
        """Jobs whose title contains `query`, ignoring case (all jobs for "")."""
        needle = query.casefold().strip()
        jobs = self._db.all("job")
        return [job for job in jobs if needle in str(job.get("title", "")).casefold()]

    def pipelines(self) -> list[dict[str, Any]]:
        """All pipelines with their stages, in seed order."""
        return self._db.all("pipeline")

    def sources(self) -> list[dict[str, Any]]:
        """All applicant sources."""
        return self._db.all("source")

    # -- creates ----------------------------------------------------------------------

    def add_cv(self, filename: str, data: bytes) -> tuple[dict[str, Any], dict[str, str]]:
        """Store a resume file exactly; return its record and what was parsed from it."""
        content_type = resume_type(data)
        if content_type is None:
            raise invalid("the file is not a PDF, DOC or DOCX document")
        with self._db.write():
            cv = {"id": self._db.new_id("cv"), "filename": filename, "size": len(data),
                  "sha256": hashlib.sha256(data).hexdigest(), "content_type": content_type}
            self._db.put("cv", cv)
            self._db.put_file(cv["id"], data)
        log.info("sandbox.cv.stored", extra={"cv_id": cv["id"], "sha256": cv["sha256"]})
        return cv, parse_resume(data)

    def cv_file(self, cv_id: str) -> tuple[dict[str, Any], bytes] | None:
        """A stored CV's record and exact bytes, or None."""
        cv = self._db.get("cv", cv_id)
        data = self._db.file(cv["id"]) if cv else None
        return (cv, data) if cv is not None and data is not None else None

    def add_applicant(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create an applicant from step 5's fields; its CVs must exist."""
        first_name = _text(body, "first_name", required=True)
        email = _text(body, "email", required=True)
        if "@" not in (email or ""):
            raise invalid("email is not an email address")
        with self._db.write():
            applicant = {
                "id": self._db.new_id("applicant"), "first_name": first_name,
                "last_name": _text(body, "last_name"), "middle_name": _text(body, "middle_name"),
                "email": email, "phone": _text(body, "phone"),
                "source_id": self._ref_or_raw("source", body.get("source_id")),
                "cv_ids": self._cv_ids(body.get("cv_ids", [])),
            }
            self._db.put("applicant", applicant)
        return applicant

    def _cv_ids(self, raw: Any) -> list[Any]:
        if not isinstance(raw, list):
            raise invalid("cv_ids must be a list")
        found = [self._db.get("cv", cv_id) for cv_id in raw]
        unknown = [cv_id for cv_id, cv in zip(raw, found, strict=True) if cv is None]
        if unknown:
            raise invalid(f"unknown cv_ids: {unknown}")
        return [cv["id"] for cv in found if cv is not None]

    def _ref_or_raw(self, kind: str, value: Any) -> Any:
        """The canonical id of a known record, else the value as sent (not checked)."""
        known = self._db.get(kind, value)
        return known["id"] if known else value

    def add_candidate(self, body: dict[str, Any]) -> dict[str, Any]:
        """Put an applicant on a job at a stage of the job's pipeline."""
        with self._db.write():
            job = self._required("job", body, "job_id")
            applicant = self._required("applicant", body, "applicant_id")
            pipeline = self._required("pipeline", body, "pipeline_id")
            if str(job.get("pipeline_id")) != str(pipeline["id"]):
                raise invalid(f"job {job['id']} is not in pipeline {pipeline['id']}")
            stage = _stage(pipeline, body.get("pipeline_stage_id"))
            candidate = {
                "id": self._db.new_id("candidate"), "job_id": job["id"],
                "applicant_id": applicant["id"], "pipeline_id": pipeline["id"],
                "pipeline_stage_id": stage["id"],
                "source_id": self._ref_or_raw("source", body.get("source_id")),
            }
            self._db.put("candidate", candidate)
        return candidate

    def _required(self, kind: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        if key not in body or body[key] is None:
            raise invalid(f"{key} is required")
        found = self._db.get(kind, body[key])
        if found is None:
            raise invalid(f"unknown {key}: {body[key]!r}")
        return found

    def add_action(self, candidate_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Record an action on a candidate; a live stage move (no backdate) moves the candidate."""
        fields = _action_fields(body)
        with self._db.write():
            candidate = self._db.get("candidate", candidate_id)
            if candidate is None:
                raise not_found(f"no candidate {candidate_id}")
            if fields["pipeline_stage_id"] is not None:
                fields["pipeline_stage_id"] = self._move(candidate, fields)
            action = {"id": self._db.new_id("action"), "candidate_id": candidate["id"], **fields,
                      "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
            self._db.put("action", action)
        return action

    def _move(self, candidate: dict[str, Any], fields: dict[str, Any]) -> Any:
        """Check the action's stage; move the candidate unless the action is backdated."""
        pipeline = self._db.get("pipeline", candidate["pipeline_id"]) or {"id": None, "stages": []}
        stage_id = _stage(pipeline, fields["pipeline_stage_id"])["id"]
        if fields["datetime_action_date"] is None:
            self._db.put("candidate", {**candidate, "pipeline_stage_id": stage_id})
        return stage_id

    def delete_action(self, candidate_id: str, action_id: str) -> None:
        """Delete one action of a candidate (404 when either is unknown)."""
        with self._db.write():
            action = self._db.get("action", action_id)
            if action is None or str(action["candidate_id"]) != str(candidate_id):
                raise not_found(f"no action {action_id} on candidate {candidate_id}")
            self._db.delete("action", action["id"])

    # -- the read-only view ----------------------------------------------------------

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every record, by kind (the JSON of GET /_sandbox/state, without `requests`)."""
        with self._db.read():
            kinds = ("job", "pipeline", "source", "cv", "applicant", "candidate", "action")
            return {f"{kind}s": self._db.all(kind) for kind in kinds}


def _text(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    """A text field as sent; None when absent (a required one must be non-blank)."""
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise invalid(f"{key} must be a string")
    if required and not (value or "").strip():
        raise invalid(f"{key} is required")
    return value


def _stage(pipeline: dict[str, Any], stage_id: Any) -> dict[str, Any]:
    if not is_id(stage_id):
        raise invalid("pipeline_stage_id is required")
    for stage in pipeline.get("stages", []):
        if str(stage.get("id")) == str(stage_id):
            return stage
    raise invalid(f"stage {stage_id!r} is not in pipeline {pipeline['id']!r}")


def _action_fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = {name: body.get(name) for name in ACTION_FIELDS}
    if all(value is None for value in fields.values()):
        raise invalid(f"an action needs at least one of {', '.join(ACTION_FIELDS)}")
    comment, reserved, when = fields["comment"], fields["reserved"], fields["datetime_action_date"]
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS):
        raise invalid(f"comment must be a string of at most {MAX_COMMENT_CHARS} characters")
    if reserved is not None and not isinstance(reserved, bool):
        raise invalid("reserved must be true or false")
    if when is not None and not _is_iso_datetime(when):
        raise invalid("datetime_action_date must be an ISO 8601 date and time")
    for name in ("pipeline_stage_id", "disqualification_reason_id"):
        if fields[name] is not None and not is_id(fields[name]):
            raise invalid(f"{name} must be an integer or a string")
    return fields


def _is_iso_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def parse_resume(data: bytes) -> dict[str, str]:
    """What the sandbox "parses" from a resume: the first email address in its raw bytes, and a PDF's
    author (its /Author entry) as first name and last name (split at the last space)."""
    found = _EMAIL.search(data[:1_000_000])
    parsed = {"email": found.group().decode("ascii").lower()} if found else {}
    author = _pdf_author(data[:1_000_000])
    if author:
        first, _, last = author.rpartition(" ")
        parsed |= {"first_name": first or last, "last_name": last if first else ""}
    return parsed


def _pdf_author(data: bytes) -> str:
    """The /Author literal string of a PDF (escapes undone; UTF-16 with its byte order mark, else Latin-1)."""
    found = _AUTHOR.search(data)
    if found is None:
        return ""
    raw = _ESCAPE.sub(lambda m: bytes([int(m[1], 8) & 0xFF]) if m[1][:1].isdigit() else m[1], found[1])
    text = raw[2:].decode("utf-16-be", "replace") if raw.startswith(b"\xfe\xff") else raw.decode("latin-1")
    return " ".join(text.split())

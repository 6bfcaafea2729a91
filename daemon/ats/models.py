"""What the ATS directory and the create calls hand back, as frozen data.

Ids are opaque: `AtsId` keeps the JSON value exactly as the server sent it (an integer or
a string) so that it can be sent back with the same JSON type, while `str(ats_id)` is
the text used for logs, comparisons in routing and the journal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

OPEN_STATUS = "open"


@dataclass(frozen=True, slots=True)
class AtsId:
    """An id as received: `wire` is the JSON value to send back, `str()` its text."""

    wire: int | str

    def __post_init__(self) -> None:
        if isinstance(self.wire, bool) or not isinstance(self.wire, int | str):
            raise TypeError(f"an ATS id is an int or a str, not {type(self.wire).__name__}")
        if isinstance(self.wire, str) and not self.wire.strip():
            raise ValueError("an ATS id cannot be empty")

    def __str__(self) -> str:
        return str(self.wire)

    @classmethod
    def of(cls, value: AtsId | int | str) -> AtsId:
        """`value` as an AtsId; a bare int or str is taken as the wire value."""
        return value if isinstance(value, AtsId) else cls(value)

    def to_json(self) -> str:
        """Text for the journal that keeps the JSON type: `7` or `"7"`."""
        return json.dumps(self.wire)

    @classmethod
    def from_json(cls, text: str) -> AtsId:
        """The inverse of `to_json`; text that is not a JSON int/str is taken as a str id."""
        try:
            value = json.loads(text)
        except ValueError:
            return cls(text)
        is_id = isinstance(value, int | str) and not isinstance(value, bool)
        return cls(value) if is_id else cls(text)


def _coerce_ids(obj: object, *names: str) -> None:
    for name in names:
        object.__setattr__(obj, name, AtsId.of(getattr(obj, name)))


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of a pipeline; `position` orders stages when the ATS gives it."""

    id: AtsId
    name: str
    position: int | None = None

    def __post_init__(self) -> None:
        _coerce_ids(self, "id")


@dataclass(frozen=True, slots=True)
class Pipeline:
    """A hiring pipeline and its stages, in the order the ATS listed them."""

    id: AtsId
    name: str
    stages: tuple[Stage, ...] = ()

    def __post_init__(self) -> None:
        _coerce_ids(self, "id")
        object.__setattr__(self, "stages", tuple(self.stages))

    def first_stage(self) -> Stage | None:
        """The stage a new candidate starts in.

        Stages with a `position` come first, lowest position first (ties keep list
        order); stages without one follow in list order. So with no positions at all the
        first listed stage wins, and a stray unpositioned stage never jumps the queue.
        """
        ranked = sorted(
            enumerate(self.stages),
            key=lambda pair: (pair[1].position is None, pair[1].position or 0, pair[0]),
        )
        return ranked[0][1] if ranked else None


@dataclass(frozen=True, slots=True)
class Job:
    """A job opening; `pipeline_id` is the pipeline its candidates go through."""

    id: AtsId
    title: str
    pipeline_id: AtsId
    status: str = ""
    code: str = ""

    def __post_init__(self) -> None:
        _coerce_ids(self, "id", "pipeline_id")

    @property
    def is_open(self) -> bool:
        """Open when the ATS says "open" (any case) or says nothing about the status."""
        status = self.status.strip().casefold()
        return status in ("", OPEN_STATUS)


@dataclass(frozen=True, slots=True)
class Source:
    """Where an applicant came from ("Email", "Referral", ...)."""

    id: AtsId
    name: str

    def __post_init__(self) -> None:
        _coerce_ids(self, "id")


@dataclass(frozen=True, slots=True)
class UploadedCv:
    """An uploaded CV: its id and what the ATS's own parser read from it, if anything."""

    cv_id: AtsId
    parsed: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _coerce_ids(self, "cv_id")
        object.__setattr__(self, "parsed", MappingProxyType(dict(self.parsed)))

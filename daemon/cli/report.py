"""Plain-text tables for people: the demo's results and `status`."""

from __future__ import annotations

from collections.abc import Sequence

from daemon.intake.planning import INFERENCE_STEPS


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], max_width: int = 60,
          whole: Sequence[str] = ()) -> str:
    """A left-aligned text table; cells longer than `max_width` are shortened, but in the columns
    named in `whole` (shown in full)."""
    cells = [[_cell(c, None if headers[i] in whole else max_width) for i, c in enumerate(row)] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(out)


def _cell(value: object, limit: int | None) -> str:
    text = " ".join(str(value).split())
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def routed_by(rule: str, job_title: str) -> str:
    """What routed a message, for people: an inference step only when it found the job (when no job
    matched, nothing routed the mail; the reason says why)."""
    return "" if rule in INFERENCE_STEPS and not job_title else rule

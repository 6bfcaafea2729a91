"""What `ats-inbox rules check` and `rules test` print (pure: data in, text out).

`rules test` prints, for each mail, a block (one mail file given) or a line (a folder or a
Maildir given), then a summary: counts per action and per job. `--json` prints one JSON
object per mail instead, one per line, with the same facts.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from daemon.ats.models import Job, Pipeline, Source, Stage
from daemon.cli.report import table
from daemon.domain import RuleAction
from daemon.routing.decision import Decision, Explanation
from daemon.routing.inference import job_label
from daemon.routing.problems import Problem
from daemon.routing.targets import find_pipeline

UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class Tried:
    """One mail tried: its name and the explanation, or why it could not be read."""

    name: str
    explanation: Explanation | None = None
    error: str = ""

    @property
    def action(self) -> str:
        return self.explanation.decision.action if self.explanation else UNREADABLE


@dataclass(frozen=True, slots=True)
class Defaults:
    """What a decision leaves to the flow: the job's first stage and the configured source."""

    pipelines: Sequence[Pipeline]
    source: Source | None
    source_name: str  # [ats] source, as configured

    def stage(self, decision: Decision) -> tuple[Stage | None, bool]:
        """The stage the candidate starts in, and whether it is the default (first) one."""
        if decision.stage is not None or decision.job is None:
            return decision.stage, False
        pipeline = find_pipeline(decision.job, self.pipelines).thing
        return (pipeline.first_stage() if pipeline else None), True

    def stage_text(self, decision: Decision) -> str:
        stage, default = self.stage(decision)
        if stage is None:
            return "(the job's pipeline has no stage)"
        return f"{stage.name!r}" + (" (first stage)" if default else "")

    def source_text(self, decision: Decision) -> str:
        if decision.source is not None:
            return repr(decision.source.name)
        if self.source is None:
            return f"{self.source_name!r} ([ats] source; not in the ATS!)"
        return f"{self.source.name!r} ([ats] source)"


def _where(decision: Decision) -> str:
    return f"rule {decision.rule!r} ({decision.rule_at})" if decision.rule_at else decision.rule


def block(tried: Tried, defaults: Defaults, explain: bool) -> str:
    """Everything about one mail, for a person reading one decision."""
    if tried.explanation is None:
        return f"{tried.name}\n  unreadable: {tried.error}"
    decision = tried.explanation.decision
    lines = [tried.name, f"  decision: {_decision_text(decision)}", f"  by:       {_where(decision)}"]
    if decision.action == RuleAction.SUBMIT:
        lines += [f"  stage:    {defaults.stage_text(decision)}", f"  source:   {defaults.source_text(decision)}"]
        if decision.comment:
            lines.append(f"  comment:  {decision.comment}")
    lines.append("  why:      " + "\n            ".join(decision.reasons))
    if decision.candidates:
        lines.append("  candidates: " + ", ".join(job_label(j) for j in decision.candidates))
    lines += [f"  note:     {note}" for note in decision.notes]
    if explain:
        lines.append("  rules tried, in order:" if tried.explanation.trials else "  rules tried: none (no rules)")
        lines += [f"    {'MATCH' if t.matched else 'no   '} {t.rule!r} ({t.at}): {t.said}"
                  for t in tried.explanation.trials]
    return "\n".join(lines)


def _decision_text(decision: Decision) -> str:
    if decision.action == RuleAction.SUBMIT and decision.job is not None:
        return f"submit to {job_label(decision.job)}"
    return f"{decision.action}: {decision.reasons[0] if decision.reasons else ''}"


def rows(tried: Sequence[Tried], defaults: Defaults) -> str:
    """One line a mail: a table for a folder of mail."""
    lines = []
    for one in tried:
        if one.explanation is None:
            lines.append([one.name, UNREADABLE, "-", "-", "-", one.error])
            continue
        d = one.explanation.decision
        job = d.job.title if d.job else "-"
        stage, _ = defaults.stage(d)
        source = d.source.name if d.source else (defaults.source.name if defaults.source else defaults.source_name)
        submitted = d.action == RuleAction.SUBMIT
        lines.append([one.name, d.action, job, stage.name if submitted and stage else "-",
                      source if submitted else "-", f"{d.rule}: {d.reason}"])
    return table(["Mail", "Action", "Job", "Stage", "Source", "Rule: why"], lines, max_width=70)


def summary(tried: Sequence[Tried]) -> str:
    """Counts per action and per job."""
    actions = Counter(t.action for t in tried)
    jobs = Counter(t.explanation.decision.job.title for t in tried
                   if t.explanation and t.explanation.decision.action == RuleAction.SUBMIT
                   and t.explanation.decision.job)
    rules = Counter(t.explanation.decision.rule for t in tried if t.explanation)
    parts = [f"{len(tried)} mail{'' if len(tried) == 1 else 's'}: "
             + ", ".join(f"{n} {a}" for a, n in sorted(actions.items()))]
    if jobs:
        parts.append("per job: " + ", ".join(f"{title} {n}" for title, n in sorted(jobs.items())))
    if rules:
        parts.append("per rule: " + ", ".join(f"{rule} {n}" for rule, n in sorted(rules.items())))
    return "\n".join(parts)


def as_json(tried: Tried, defaults: Defaults, explain: bool) -> str:
    """One mail as one line of JSON."""
    if tried.explanation is None:
        return json.dumps({"mail": tried.name, "action": UNREADABLE, "error": tried.error})
    d = tried.explanation.decision
    stage, default_stage = defaults.stage(d)
    source = d.source or (defaults.source if d.action == RuleAction.SUBMIT else None)
    out: dict[str, Any] = {
        "mail": tried.name, "action": d.action, "rule": d.rule, "rule_at": d.rule_at or None,
        "reasons": list(d.reasons), "job": _job(d.job), "stage": _named(stage), "stage_is_default": default_stage,
        "source": _named(source), "source_is_default": d.source is None and source is not None,
        "comment": d.comment or None, "candidates": [_job(j) for j in d.candidates], "notes": list(d.notes),
    }
    if explain:
        out["rules_tried"] = [{"rule": t.rule, "at": t.at, "matched": t.matched, "why": t.said}
                              for t in tried.explanation.trials]
    return json.dumps(out, ensure_ascii=False)


def _job(job: Job | None) -> dict[str, Any] | None:
    return None if job is None else {"id": job.id.wire, "title": job.title, "code": job.code or None}


def _named(thing: Stage | Source | None) -> dict[str, Any] | None:
    return None if thing is None else {"id": thing.id.wire, "name": thing.name}


def problems_text(problems: Sequence[Problem]) -> str:
    return "\n".join(str(p) for p in problems)

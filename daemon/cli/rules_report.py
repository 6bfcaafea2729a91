"""What `ats-inbox rules check` and `rules test` print (pure: data in, text out).

`rules test` prints, for each mail, a block (one mail file given) or a line (a folder or a
Maildir given), then a summary: counts per action and per job. `--json` prints one JSON
object per mail instead, one per line, with the same facts. What it prints is the run's plan
(daemon.intake.planning): the action is what the run would do (submit, review, ignore), the
status what it would record, with the candidate and who forwarded.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from daemon.ats.models import Job, Pipeline, Source, Stage
from daemon.cli.report import table
from daemon.domain import Person, RuleAction, Status
from daemon.intake.planning import Candidacy, Plan, named, who
from daemon.routing.decision import Decision, Explanation
from daemon.routing.inference import job_label
from daemon.routing.problems import Problem
from daemon.routing.targets import find_pipeline

UNREADABLE = "unreadable"
_ACTION = {Status.SUBMITTED: RuleAction.SUBMIT, Status.REVIEW: RuleAction.REVIEW, Status.IGNORED: RuleAction.IGNORE}


@dataclass(frozen=True, slots=True)
class Tried:
    """One mail tried: its name and the run's plan for it, and why it could not be read, if so."""

    name: str
    plan: Plan
    error: str = ""

    @property
    def action(self) -> str:
        """What the run would do: submit, review or ignore (unreadable: set aside, it cannot be read)."""
        return UNREADABLE if self.error else _ACTION[self.plan.status]

    @property
    def explanation(self) -> Explanation | None:
        return self.plan.explanation

    @property
    def submitted(self) -> bool:
        return self.plan.status == Status.SUBMITTED


@dataclass(frozen=True, slots=True)
class Defaults:
    """What a decision leaves to the flow: the job's first stage and the configured source."""

    pipelines: Sequence[Pipeline]
    source: Source | None
    source_name: str  # [ats] source, as configured
    sources: Sequence[Source] = ()  # every source of the ATS (an agency's is looked up among them)

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

    def agency_source(self, agency: str) -> Source | None:
        """The agency's source (by its name, without regard to case); None for none or when the ATS lacks it."""
        wanted = agency.strip().casefold()
        return next((s for s in self.sources if s.name.strip().casefold() == wanted), None) if agency else None

    def source_text(self, decision: Decision, agency: str = "") -> str:
        if decision.source is not None:
            return repr(decision.source.name)
        if agency:
            return f"{agency!r} (the agency's, [intake] agencies)"
        if self.source is None:
            return f"{self.source_name!r} ([ats] source; not in the ATS!)"
        return f"{self.source.name!r} ([ats] source)"


def _where(decision: Decision) -> str:
    return f"rule {decision.rule!r} ({decision.rule_at})" if decision.rule_at else decision.rule


def block(tried: Tried, defaults: Defaults, explain: bool) -> str:
    """Everything about one mail, for a person reading one decision."""
    if tried.error:
        return f"{tried.name}\n  unreadable: {tried.error}\n  status:   {tried.plan.status} ({tried.plan.reason})"
    plan, decision = tried.plan, tried.plan.decision
    lines = [tried.name, f"  decision: {_decision_text(tried)}"]
    lines += [f"  by:       {_where(decision)}"] if decision is not None else []
    lines += [f"  who:      {_who(plan)}"] if plan.candidates else []
    lines += [f"  forward:  by {named(plan.forwarder)}"] if plan.forwarder else []
    lines += [f"  agency:   {plan.agency}"] if plan.agency else []
    if tried.submitted and decision is not None:
        lines += [f"  stage:    {defaults.stage_text(decision)}",
                  f"  source:   {defaults.source_text(decision, plan.agency)}"]
        if decision.comment:
            lines.append(f"  comment:  {decision.comment}")
    if decision is not None:
        lines.append("  why:      " + "\n            ".join(decision.reasons))
        if decision.candidates:
            lines.append("  candidates: " + ", ".join(job_label(j) for j in decision.candidates))
    lines += [f"  note:     {note}" for note in (*(decision.notes if decision else ()), *plan.notes)]
    if explain and tried.explanation is not None:
        lines.append("  rules tried, in order:" if tried.explanation.trials else "  rules tried: none (no rules)")
        lines += [f"    {'MATCH' if t.matched else 'no   '} {t.rule!r} ({t.at}): {t.said}"
                  for t in tried.explanation.trials]
    return "\n".join(lines)


def _decision_text(tried: Tried) -> str:
    if tried.submitted and tried.plan.job is not None:
        return f"submit to {job_label(tried.plan.job)}"
    return f"{tried.action}: {tried.plan.reason}"


def _who(plan: Plan) -> str:
    """The candidates, and how the first was found: 'Jane Doe <jane@example.org> (sender)'."""
    return "; ".join(who(c) for c in plan.candidates) + (f" ({plan.found_by})" if plan.found_by else "")


def rows(tried: Sequence[Tried], defaults: Defaults) -> str:
    """One line a mail: a table for a folder of mail."""
    lines = []
    for one in tried:
        plan, d = one.plan, one.plan.decision
        people = "; ".join(who(c) for c in plan.candidates) or "-"
        forwarder = named(plan.forwarder) or "-"
        if one.error or d is None:
            lines.append([one.name, one.action, "-", "-", "-", one.error or plan.reason, people, forwarder])
            continue
        job = plan.job.title if one.submitted and plan.job else "-"
        stage, _ = defaults.stage(d)
        source = d.source.name if d.source else plan.agency or (
            defaults.source.name if defaults.source else defaults.source_name)
        why = d.reason if one.submitted else plan.reason
        lines.append([one.name, one.action, job, stage.name if one.submitted and stage else "-",
                      source if one.submitted else "-", f"{plan.rule}: {why}", people, forwarder])
    return table(["Mail", "Action", "Job", "Stage", "Source", "Rule: why", "Candidate", "Forwarded by"], lines,
                 max_width=70, whole=("Mail", "Rule: why"))


def summary(tried: Sequence[Tried]) -> str:
    """Counts per action (what the run would do), per job and per rule."""
    actions = Counter(t.action for t in tried)
    jobs = Counter(t.plan.job.title for t in tried if t.submitted and t.plan.job)
    rules = Counter(t.plan.rule for t in tried if t.plan.rule)
    parts = [f"{len(tried)} mail{'' if len(tried) == 1 else 's'}: "
             + ", ".join(f"{n} {a}" for a, n in sorted(actions.items()))]
    if jobs:
        parts.append("per job: " + ", ".join(f"{title} {n}" for title, n in sorted(jobs.items())))
    if rules:
        parts.append("per rule: " + ", ".join(f"{rule} {n}" for rule, n in sorted(rules.items())))
    return "\n".join(parts)


def as_json(tried: Tried, defaults: Defaults, explain: bool) -> str:
    """One mail as one line of JSON."""
    plan, d = tried.plan, tried.plan.decision
    out: dict[str, Any] = {"mail": tried.name, "action": tried.action, "status": plan.status, "reason": plan.reason,
                           "candidate": _candidate(plan.candidates[0], plan.found_by) if plan.candidates else None,
                           "more_candidates": [_candidate(c, "") for c in plan.candidates[1:]],
                           "forwarded_by": _person(plan.forwarder), "agency": plan.agency or None,
                           "job": _job(plan.job)}
    if tried.error:
        return json.dumps({**out, "error": tried.error}, ensure_ascii=False)
    if d is None:
        return json.dumps(out, ensure_ascii=False)
    stage, default_stage = defaults.stage(d) if tried.submitted else (None, False)
    source = (d.source or defaults.agency_source(plan.agency) or defaults.source) if tried.submitted else None
    out |= {
        "rule": d.rule, "rule_at": d.rule_at or None, "reasons": list(d.reasons), "stage": _named(stage),
        "stage_is_default": default_stage, "source": _named(source),
        "source_is_default": d.source is None and source is not None, "comment": d.comment or None,
        "candidates": [_job(j) for j in d.candidates], "notes": [*d.notes, *plan.notes],
    }
    if explain:
        out["rules_tried"] = [{"rule": t.rule, "at": t.at, "matched": t.matched, "why": t.said}
                              for t in tried.explanation.trials]
    return json.dumps(out, ensure_ascii=False)


def _candidate(candidacy: Candidacy, found_by: str) -> dict[str, Any]:
    """A candidate: name and email ("" when the ATS reads them in the CV), how found, their resumes."""
    person = candidacy.person or Person("", "")
    return {"name": person.name, "email": person.address, "found_by": found_by, "from_cv": candidacy.from_cv,
            "resumes": [r.filename or r.upload_name for r in candidacy.resumes]}


def _person(person: Person | None) -> dict[str, str] | None:
    return None if person is None else {"name": person.name, "email": person.address}


def _job(job: Job | None) -> dict[str, Any] | None:
    return None if job is None else {"id": job.id.wire, "title": job.title, "code": job.code or None}


def _named(thing: Stage | Source | None) -> dict[str, Any] | None:
    return None if thing is None else {"id": thing.id.wire, "name": thing.name}


def problems_text(problems: Sequence[Problem]) -> str:
    return "\n".join(str(p) for p in problems)

"""`ats-inbox check`: is everything ready to go live? Each part is tried the way the daemon uses it.

    IMAP      log in; the watched folder and the processed, review and ignored folders checked
              against the server's namespace and separator (ImapMailbox.open(), as a pass
              starts, read-only: every bad folder is said at once); missing target folders
              are created only when everything else is ready, never while it says "Not ready"
    ATS       the token, by reading the directory (jobs, pipelines, sources); the configured
              source among the sources, and each agency's ([intake] agencies); each open job's
              pipeline and its first stage
    rules     the rule files (every problem with file and line), then the jobs, stages and
              sources they name against the ATS

With several mailboxes ([[mailbox]]) each one's IMAP account and folders, source and rules
folder are checked, and each line about one says which ("mailbox paris: IMAP: ...").

Every part is checked even when another failed; each problem is one line saying what to
do. The open jobs are listed with the mail that reaches them: subject forms (inference
finds a job code or the title in the subject) and the recipient addresses a rule names.
Nothing is sent to the ATS and no mail is read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from daemon.ats.client import AtsClient
from daemon.ats.models import Job, Pipeline, Source
from daemon.config import AtsSettings, ImapSettings, Settings
from daemon.domain import RuleAction
from daemon.errors import AtsInboxError, AtsRejected, ConfigError, MailboxUnavailable
from daemon.intake.planning import missing_agency_sources
from daemon.mailbox.imap import ImapMailbox
from daemon.ops.service import ats_client
from daemon.routing import RuleSet, RulesInvalid, check_against, load_rules
from daemon.routing.conditions import Recipient, RecipientTag
from daemon.routing.rule import Rule

OK, WARNING, PROBLEM = "ok", "warning", "PROBLEM"


@dataclass(frozen=True, slots=True)
class Line:
    level: str  # OK, WARNING or PROBLEM
    text: str


@dataclass(frozen=True, slots=True)
class Directory:
    jobs: list[Job]
    pipelines: list[Pipeline]
    sources: list[Source]


@dataclass
class Report:
    """The lines of the check, and the open jobs with the mail that reaches them."""

    lines: list[Line] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # target folders to create once everything is ready

    @property
    def ready(self) -> bool:
        return all(line.level != PROBLEM for line in self.lines)

    def add(self, level: str, text: str) -> None:
        self.lines.append(Line(level, text))

    def text(self) -> str:
        out = [f"{line.level:<8} {line.text}" for line in self.lines]
        if self.jobs:
            out += ["", "Open jobs and the mail that reaches them:", *self.jobs]
        problems = sum(1 for line in self.lines if line.level == PROBLEM)
        out += ["", "Ready: everything checked out." if self.ready else
                f"Not ready: {problems} problem(s) above; fix them and run `ats-inbox check` again."]
        return "\n".join(out)


MailboxFactory = Callable[..., ImapMailbox]  # (settings, read_only=...)
ClientFactory = Callable[[AtsSettings], AtsClient]


def run_checks(settings: Settings, mailbox_factory: MailboxFactory = ImapMailbox,
               client_factory: ClientFactory | None = None) -> Report:
    """Check IMAP, the ATS and the rules; list the open jobs."""
    report = Report()
    mailboxes = settings.all_mailboxes()
    several = len(mailboxes) > 1
    missing: dict[str, list[str]] = {}
    for mailbox in mailboxes:
        with _named(report, mailbox.name if several else ""):
            check_imap(mailbox.imap, report, mailbox_factory)
            missing[mailbox.name], report.missing = report.missing, []
    directory = check_ats(settings.ats, report, client_factory or _client)
    if directory is not None:
        for problem in missing_agency_sources(tuple(settings.intake.agencies.items()), directory.sources):
            report.add(PROBLEM, f"ATS: {problem}: add it in the ATS or fix [intake] agencies")
        for mailbox in mailboxes:
            if mailbox.source != settings.ats.source:
                with _named(report, mailbox.name):
                    _check_source(mailbox.source, directory.sources, report, key="its source")
    folders: dict[object, RuleSet | None] = {}
    for mailbox in mailboxes:
        if mailbox.rules_path not in folders:
            with _named(report, mailbox.name if several and mailbox.rules_path != settings.rules_path else ""):
                folders[mailbox.rules_path] = check_rules(settings.for_mailbox(mailbox), report, directory)
    if directory is not None:
        report.jobs = job_lines(directory, folders[mailboxes[0].rules_path], settings.imap.username)
    for mailbox in mailboxes:
        with _named(report, mailbox.name if several else ""):
            report.missing = missing[mailbox.name]
            create_folders(mailbox.imap, report, mailbox_factory)
    return report


@contextmanager
def _named(report: Report, mailbox: str) -> Iterator[None]:
    """The lines added inside say which mailbox they are about (nothing added when `mailbox` is "")."""
    start = len(report.lines)
    yield
    if mailbox:
        report.lines[start:] = [Line(line.level, f"mailbox {mailbox}: {line.text}") for line in report.lines[start:]]


def check_imap(imap: ImapSettings, report: Report, factory: MailboxFactory) -> None:
    """The login and every folder, read-only: nothing is created here."""
    mailbox = factory(imap, read_only=True)
    if not _opened(mailbox, imap, report):
        return
    report.missing = list(mailbox.missing)
    folders = ", ".join(f"{what} {name!r}" for what, name in (
        ("processed", imap.processed_folder), ("review", imap.review_folder), ("ignored", imap.ignored_folder))
        if name) or "no folder to move mail to (mail stays in the watched folder, marked)"
    missing = f" (missing: {', '.join(map(repr, report.missing))})" if report.missing else ""
    report.add(OK, f"IMAP: logged in as {imap.username} at {imap.host}:{imap.port}; watched folder "
                   f"{imap.folder!r}; {folders}: usable{missing}")


def create_folders(imap: ImapSettings, report: Report, factory: MailboxFactory) -> None:
    """The missing target folders, created (by opening the mailbox as a pass does) only when
    everything else checked out."""
    if not report.missing:
        return
    names = ", ".join(map(repr, report.missing))
    if not report.ready:
        report.add(WARNING, f"IMAP: {names} not created while not ready (`ats-inbox check` creates them once "
                            "everything else is ready, as the first pass would)")
    elif _opened(factory(imap), imap, report):
        report.add(OK, f"IMAP: created {names}")


def _opened(mailbox: ImapMailbox, imap: ImapSettings, report: Report) -> bool:
    """Open and close the mailbox; False, with every problem reported, when it cannot be used."""
    try:
        mailbox.open()
    except MailboxUnavailable as exc:
        report.add(PROBLEM, f"IMAP: {exc}{_imap_hint(exc, imap.auth)}")
        return False
    except ConfigError as exc:
        for problem in getattr(exc, "problems", (exc,)):
            report.add(PROBLEM, f"IMAP folders: {problem}; fix the key in the configuration, or create the "
                                "folder by hand")
        return False
    finally:
        mailbox.close()
    return True


def _imap_hint(exc: MailboxUnavailable, auth: str = "password") -> str:
    text = str(exc)
    if "login refused" in text and auth == "oauth2":
        return (" (imap.username must be the mailbox's address; the access token comes from "
                "imap.oauth2_refresh_token_file and imap.oauth2_scope)")
    if "login refused" in text:
        return " (imap.password_file, imap.password or ATS_INBOX_IMAP_PASSWORD)"
    if "selecting" in text:
        return "; check imap.folder: the watched folder must exist"
    return "; check imap.host, imap.port and imap.security, and that the server is reachable"


def check_ats(ats: AtsSettings, report: Report, factory: ClientFactory) -> Directory | None:
    """The directory read with the token; the source; each open job's pipeline. None when unreadable."""
    try:
        with factory(ats) as client:
            directory = Directory(client.search_jobs(), client.pipelines(), client.sources())
    except AtsRejected as exc:
        hint = ("the token was refused: put the right one in ats.token_file (or ats.token, ATS_INBOX_ATS_TOKEN)"
                if exc.status in (401, 403) else "check ats.base_url")
        report.add(PROBLEM, f"ATS: {exc}; {hint}")
        return None
    except AtsInboxError as exc:
        report.add(PROBLEM, f"ATS: {exc}; check ats.base_url and that the ATS is reachable")
        return None
    open_jobs = [job for job in directory.jobs if job.is_open]
    report.add(OK, f"ATS: the token works at {ats.base_url}: {len(open_jobs)} open job(s), "
                   f"{len(directory.pipelines)} pipeline(s), {len(directory.sources)} source(s)")
    _check_source(ats.source, directory.sources, report)
    _check_pipelines(open_jobs, directory.pipelines, report)
    return directory


def _check_source(name: str, sources: Sequence[Source], report: Report, key: str = "ats.source") -> None:
    found = next((s for s in sources if s.name.strip().casefold() == name.strip().casefold()), None)
    if found is not None:
        report.add(OK, f"ATS source {name!r} exists (id {found.id})")
        return
    names = ", ".join(repr(s.name) for s in sources) or "none"
    report.add(PROBLEM, f"ATS: no source named {name!r} (the ATS has {names}): set {key} to one of them")


def _check_pipelines(jobs: Sequence[Job], pipelines: Sequence[Pipeline], report: Report) -> None:
    if not jobs:
        report.add(WARNING, "ATS: no open job: every application would be set aside for a person")
    stages = {str(p.id): p.first_stage() for p in pipelines}
    for job in jobs:
        if str(job.pipeline_id) not in stages:
            report.add(PROBLEM, f"ATS: job {job.title!r} (#{job.id}) has pipeline {job.pipeline_id}, which the ATS "
                                "does not list: its applications would be set aside; fix the job in the ATS")
        elif stages[str(job.pipeline_id)] is None:
            report.add(PROBLEM, f"ATS: the pipeline of job {job.title!r} (#{job.id}) has no stages: its applications "
                                "would be set aside; add a stage in the ATS")


def check_rules(settings: Settings, report: Report, directory: Directory | None) -> RuleSet | None:
    folder = settings.rules_path
    try:
        rules = load_rules(folder)
    except RulesInvalid as exc:
        for problem in exc.problems:
            report.add(WARNING if problem.warning else PROBLEM, f"rules: {problem}")
        report.add(PROBLEM, f"rules: the rule files in {folder} are invalid: fix the lines above "
                            "(`ats-inbox rules check` says the same); poll and run refuse to start until then; "
                            "the jobs, stages and sources they name were not checked against the ATS")
        return None
    if directory is None:
        report.add(OK, f"rules: {rules.summary()} in {folder}, valid (not checked against the ATS: see above)")
        return rules
    problems = check_against(rules, directory.jobs, directory.pipelines, directory.sources)
    for problem in problems:
        report.add(WARNING if problem.warning else PROBLEM, f"rules: {problem}")
    if not any(not p.warning for p in problems):
        report.add(OK, f"rules: {rules.summary()} in {folder}, valid; the jobs, stages and sources they name exist")
    return rules


# -- the open jobs and the mail that reaches them ---------------------------------------------

def job_lines(directory: Directory, rules: RuleSet | None, mailbox_user: str) -> list[str]:
    """For each open job: the subject forms that infer it, and the addresses a rule sends to it."""
    rule_list = list(rules.rules) if rules is not None else []
    lines = []
    for job in sorted((j for j in directory.jobs if j.is_open), key=lambda j: j.title.casefold()):
        code = f", code {job.code}" if job.code else ""
        forms = f'subject "Application: {job.title}"' + (f' or "[{job.code}]" in the subject' if job.code else "")
        lines.append(f"  {job.title} (#{job.id}{code}): {forms}")
        lines += [f"      also {said} (rule {rule.name!r})" for rule in rule_list
                  if _names(rule, job) for said in _addresses(rule, mailbox_user)]
    general = [f"  any job: {said} (rule {rule.name!r}, job {rule.job.value!r} from the mail)"
               for rule in rule_list if rule.job is not None and rule.job.placeholders
               for said in _addresses(rule, mailbox_user)]
    return lines + general


def _names(rule: Rule, job: Job) -> bool:
    """Whether the rule sends mail to this job by a fixed id, code or title."""
    ref = rule.job
    if rule.action != RuleAction.SUBMIT or ref is None or ref.placeholders:
        return False
    wanted = ref.value.strip().casefold()
    by_id, by_code, by_title = str(job.id) == ref.value.strip(), job.code.casefold() == wanted, \
        job.title.strip().casefold() == wanted
    return {"id": by_id, "code": by_code, "title": by_title}.get(ref.by, by_code or by_title)


def _addresses(rule: Rule, mailbox_user: str) -> list[str]:
    """The recipient conditions among the rule's own (top-level) conditions, as addresses to write to."""
    local, _, domain = mailbox_user.partition("@")
    said = []
    for condition in rule.when.conditions:
        if isinstance(condition, Recipient):
            said += [f"mail to {p}" for p in condition.patterns]
        elif isinstance(condition, RecipientTag):
            example = f"{local}+{{tag}}@{domain}" if domain else f"{local}+{{tag}}@..."
            said += [f"mail to {example.replace('{tag}', p)}" for p in condition.patterns]
    return said


def _client(ats: AtsSettings) -> AtsClient:

    return ats_client(dataclasses.replace(ats, retry_attempts=1))

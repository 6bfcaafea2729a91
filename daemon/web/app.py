"""The review page's routes: the queue, a message, the actions on them, the status page, logging in.

Every page is rendered by Jinja2 with autoescaping; no page carries script, and the Content
Security Policy forbids any (`script-src 'none'`). Every POST carries the session's CSRF token.
A change goes through daemon.intake.review / .reroute, as the command line's, and is written to
the audit trail with who made it."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daemon.domain import NEEDS_PERSON, Role, Status
from daemon.errors import AtsInboxError
from daemon.intake import reroute, review
from daemon.intake.lifecycle import ALLOWED, PersonAction
from daemon.store import people
from daemon.store.models import MessageRecord, utcnow
from daemon.store.queue import QueueFilter, search
from daemon.web import mailview, passwords
from daemon.web.access import LOCAL, Access, Person, Throttle
from daemon.web.desk import Desk
from daemon.web.sessions import COOKIE, Session, Signer, same_token

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
CSP = ("default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
           (b"cache-control", b"no-store")]
PER_PAGE = 50


class SecurityHeaders:
    """Adds the security headers to every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *HEADERS]
            await send(message)

        await self.app(scope, receive, sending)


class Refused(Exception):
    def __init__(self, status: int, said: str):
        super().__init__(said)
        self.status, self.said = status, said


def build(desk: Desk, access: Access, *, clock: Callable[[], float] = time.time, key: bytes | None = None) -> ASGIApp:
    """The review page's ASGI application."""
    page = ReviewPage(desk, access, clock, Signer(key, access.session_minutes * 60))
    routes = [
        Route("/", page.queue), Route("/login", page.login_form), Route("/login", page.login, methods=["POST"]),
        Route("/logout", page.logout, methods=["POST"]), Route("/bulk", page.bulk, methods=["POST"]),
        Route("/messages/{pk:int}", page.message),
        Route("/messages/{pk:int}/files/{index:int}", page.file),
        Route("/messages/{pk:int}/{action:str}", page.act, methods=["POST"]),
        Route("/status", page.status),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return SecurityHeaders(Starlette(routes=routes, exception_handlers={Refused: page.refused}))


class ReviewPage:
    def __init__(self, desk: Desk, access: Access, clock: Callable[[], float], signer: Signer):
        self.desk, self.access, self.clock, self.signer = desk, access, clock, signer
        self.throttle = Throttle()
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"),
                               autoescape=select_autoescape(default=True, default_for_string=True))
        self.env.filters["when"] = _when
        self.env.filters["waited"] = lambda moment: _waited(moment, self.clock())

    # -- who is asking --------------------------------------------------------------------------

    def _session(self, request: Request) -> Session | None:
        return self.signer.load(request.cookies.get(COOKIE), self.clock())

    def _person(self, request: Request, session: Session | None) -> Person | None:
        if self.access.auth == "none":
            return Person(LOCAL, Role.ADMIN)
        if self.access.auth == "header":
            client = request.client.host if request.client else ""
            name = request.headers.get(self.access.trusted_header, "").strip()
            if not name or not self.access.proxy_trusted(client):
                return None
        else:
            name = session.user if session is not None else ""
        found = people.account(self.desk.store, name) if name else None
        return Person(found.name, Role(found.role)) if found is not None else None

    def _need(self, request: Request, admin: bool = False) -> tuple[Person, Session]:
        session = self._session(request)
        person = self._person(request, session)
        if person is None:
            if self.access.auth == "header":
                raise Refused(403, "the proxy did not name a known account")
            raise Refused(401, "log in first")
        if admin and not person.admin:
            raise Refused(403, "only an admin may see this page")
        if session is None or session.user != person.name:
            session = Session.fresh(person.name, self.clock())
        return person, session

    async def _checked_form(self, request: Request, session: Session) -> FormData:
        form = await request.form()
        if not same_token(str(form.get("csrf", "")), session.csrf) or self._session(request) is None:
            raise Refused(403, "the form's security token is missing or old: reload the page and try again")
        return form

    # -- rendering ---------------------------------------------------------------------------------

    def _page(self, name: str, session: Session, person: Person | None, status: int = 200, **data) -> Response:
        html = self.env.get_template(name).render(csrf=session.csrf, person=person, auth=self.access.auth, **data)
        response = HTMLResponse(html, status_code=status)
        self._keep(response, session)
        return response

    def _keep(self, response: Response, session: Session) -> None:
        response.set_cookie(COOKIE, self.signer.dump(session), max_age=int(self.signer.lifetime), httponly=True,
                            samesite="strict", secure=self.access.secure_cookies, path="/")

    def refused(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        if exc.status == 401 and request.method == "GET":
            return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
        session = self._session(request) or Session.fresh("", self.clock())
        return self._page("refused.html", session, None, status=exc.status, said=exc.said)

    # -- logging in -----------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        session = self._session(request) or Session.fresh("", self.clock())
        return self._page("login.html", session, None, said=request.query_params.get("said", ""),
                          next=_local(request.query_params.get("next", "/")))

    async def login(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            raise Refused(403, "the login form is old: reload it and try again")
        form = await self._checked_form(request, session)
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        now = self.clock()
        if self.throttle.blocked(name, now):
            return self._page("login.html", session, None, status=429, next="/",
                              said="too many failed logins for this name: wait a minute")
        found = people.account(self.desk.store, name) if name and self.access.auth == "accounts" else None
        if found is None or not passwords.verify(password, found.password_hash):
            self.throttle.failed(name, now)
            log.info("web.login_failed")
            return self._page("login.html", session, None, status=401, next="/", said="wrong name or password")
        self.throttle.succeeded(name)
        people.record(self.desk.store, found.name, "logged in", None, "")
        response = RedirectResponse(_local(str(form.get("next", "/"))), status_code=303)
        self._keep(response, Session.fresh(found.name, now))  # a new session (and token) at each login
        return response

    async def logout(self, request: Request) -> Response:
        _person, session = self._need(request)
        await self._checked_form(request, session)
        response = RedirectResponse("/login?said=logged+out", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- the queue ------------------------------------------------------------------------------

    async def queue(self, request: Request) -> Response:
        person, session = self._need(request)
        q = request.query_params
        wanted = QueueFilter(
            statuses=tuple(s for s in q.getlist("status") if s in set(Status)),
            job=q.get("job", "").strip(), sender=q.get("sender", "").strip(), rule=q.get("rule", "").strip(),
            since=_day(q.get("since", "")), until=_day(q.get("until", ""), next_day=True),
            text=q.get("q", "").strip(), page=_int(q.get("page", "1")), per_page=PER_PAGE)
        found = search(self.desk.store, wanted)
        paging = {k: v for k, v in q.multi_items() if k != "page"}
        return self._page("queue.html", session, person, found=found, wanted=wanted, statuses=list(Status),
                          files=_files, said=q.get("said", ""), needs_person=NEEDS_PERSON,
                          page_link=lambda n: "/?" + urlencode([*paging.items(), ("page", n)]),
                          query=dict(q))

    async def bulk(self, request: Request) -> Response:
        person, session = self._need(request)
        form = await self._checked_form(request, session)
        pks = [int(v) for v in form.getlist("pk") if str(v).isdigit()]
        action, note = str(form.get("action", "")), str(form.get("note", ""))
        lines = [self._apply(person, pk, action, note) for pk in pks] or ["nothing selected"]
        return RedirectResponse("/?" + urlencode({"said": "; ".join(lines)}), status_code=303)

    # -- one message ------------------------------------------------------------------------------

    async def message(self, request: Request) -> Response:
        person, session = self._need(request)
        pk = request.path_params["pk"]
        record, steps = self._record(pk)
        shown, missing = self._mail(record)
        jobs, jobs_error = self._jobs(record)
        return self._page("message.html", session, person, m=record, steps=steps, mail=shown, missing=missing,
                          files=_files(record), trail=people.trail(self.desk.store, pk), jobs=jobs,
                          jobs_error=jobs_error, can=_can(record.status), said=request.query_params.get("said", ""),
                          trace=_trace(record))

    async def file(self, request: Request) -> Response:
        person, _session = self._need(request)
        record, _steps = self._record(request.path_params["pk"])
        raw = self._raw(record)
        found = mailview.attachment(raw, request.path_params["index"]) if raw is not None else None
        if found is None:
            raise Refused(404, "no such file in this mail (or the mail is not in the mailbox any more)")
        name, data = found
        people.record(self.desk.store, person.name, "downloaded a file", record.id, name)
        disposition = "attachment; filename*=UTF-8''" + _quoted(name)
        return Response(data, media_type="application/octet-stream", headers={"content-disposition": disposition})

    async def act(self, request: Request) -> Response:
        person, session = self._need(request)
        form = await self._checked_form(request, session)
        pk, action = request.path_params["pk"], request.path_params["action"]
        if action == "submit":
            said = self._submit(person, pk, [str(t) for t in form.getlist("target") if t])
        else:
            said = self._apply(person, pk, action, str(form.get("note", "")))
        return RedirectResponse(f"/messages/{pk}?" + urlencode({"said": said}), status_code=303)

    # -- the status page (admins) -------------------------------------------------------------------

    async def status(self, request: Request) -> Response:
        person, session = self._need(request, admin=True)
        report = self.desk.status()
        day = search(self.desk.store, QueueFilter(since=datetime.fromtimestamp(self.clock(), UTC) - timedelta(days=1),
                                                  per_page=1)).total
        return self._page("status.html", session, person, report=report, last_day=day,
                          trail=people.trail(self.desk.store, limit=50), accounts=people.accounts(self.desk.store))

    # -- actions, through the command line's code -------------------------------------------------------

    def _apply(self, person: Person, pk: int, action: str, note: str) -> str:
        """One action on one message; the line that says what it did (or why not), recorded with who."""
        try:
            outcome = self._outcome(person, pk, action, note)
        except AtsInboxError as exc:
            return f"#{pk} not {action}: {exc}"
        people.record(self.desk.store, person.name, action, pk, (note.strip() + " | " if note.strip() else "")
                      + outcome.said)
        return outcome.said + (f" ({outcome.warning})" if outcome.warning else "")

    def _outcome(self, person: Person, pk: int, action: str, note: str) -> review.Outcome:
        store = self.desk.store
        if action == "retry":
            return review.retry(store, pk, self.desk.move_back)
        if action == "reopen":
            return review.reopen(store, pk, note, by=person.name)
        if action not in ("resolve", "ignore"):
            raise review.NotAllowed(f"no action {action!r}")
        close = review.resolve if action == "resolve" else review.ignore
        mailbox = self.desk.mailbox() if self.desk.mailbox is not None else None
        try:
            return close(store, pk, note, by=person.name, settle=mailbox.settle if mailbox else None,
                         now=utcnow(), mailbox_off=self.desk.mailbox_off)
        finally:
            if mailbox is not None:
                mailbox.close()

    def _submit(self, person: Person, pk: int, targets: list[str]) -> str:
        """To the jobs and stages picked (each `job id::stage name`): journalled as the person's choice, then
        retried (the daemon submits it on its next pass), as `messages retry --job A --stage S --job B ...`."""
        picks = [(job, stage or None) for job, _, stage in (t.partition("::") for t in targets) if job]
        if not picks:
            return "pick a job first"
        try:
            record, _steps = review.message(self.desk.store, pk)
            if record.status not in ALLOWED[PersonAction.RETRY]:
                raise review.NotAllowed(f"message #{pk} is {record.status}: only "
                                        f"{' or '.join(ALLOWED[PersonAction.RETRY])} messages can be submitted")
            with self.desk.directory() as directory:
                chosen = reroute.choose_jobs(self.desk.store, pk, directory, picks)
            outcome = review.retry(self.desk.store, pk, self.desk.move_back)
        except AtsInboxError as exc:
            return f"#{pk} not submitted: {exc}"
        said = f"#{pk} will go to {reroute.said(chosen)}; {outcome.said}"
        people.record(self.desk.store, person.name, "submit", pk, reroute.said(chosen))
        return said

    # -- reading -------------------------------------------------------------------------------------

    def _record(self, pk: int) -> tuple[MessageRecord, list]:
        try:
            return review.message(self.desk.store, pk)
        except review.UnknownMessage as exc:
            raise Refused(404, str(exc)) from exc

    def _raw(self, record: MessageRecord) -> bytes | None:
        if self.desk.mailbox is None:
            return None
        mailbox = self.desk.mailbox()
        try:
            return mailbox.read(record)
        except AtsInboxError:
            return None
        finally:
            mailbox.close()

    def _mail(self, record: MessageRecord) -> tuple[mailview.MailView | None, str]:
        if self.desk.mailbox is None:
            return None, f"the mailbox cannot be read here ({self.desk.mailbox_off or 'not configured'})"
        try:
            mailbox = self.desk.mailbox()
            try:
                raw = mailbox.read(record)
            finally:
                mailbox.close()
        except AtsInboxError as exc:
            return None, f"the mailbox could not be read: {exc}"
        if raw is None:
            return None, "the mail is not in the mailbox any more (moved or deleted by someone)"
        return mailview.view(raw), ""

    def _jobs(self, record: MessageRecord) -> tuple[list[tuple[str, str, list[str]]], str]:
        """The ATS's open jobs (id, title, stage names) for the submit form; only when it can be submitted."""
        if record.status not in ALLOWED[PersonAction.RETRY]:
            return [], ""
        try:
            with self.desk.directory() as directory:
                return [(str(j.id), j.title, [s.name for s in directory.pipeline(j.pipeline_id).stages])
                        for j in directory.open_jobs()], ""
        except AtsInboxError as exc:
            return [], f"the ATS's open jobs could not be read: {exc}"


def _can(status: str) -> dict[str, bool]:
    return {"retry": status in ALLOWED[PersonAction.RETRY], "resolve": status in ALLOWED[PersonAction.RESOLVE],
            "reopen": status in ALLOWED[PersonAction.REOPEN], "ignore": status in ALLOWED[PersonAction.IGNORE]}


def _trace(m: MessageRecord) -> list[tuple[str, str]]:
    """How the daemon decided, in order: the candidate found, the rule or inference step, the job, the ATS."""
    rows = [("Candidate found by", m.found_by), ("Forwarded by", m.forwarded_by),
            ("Rule or inference step", m.rule), ("Why", m.route_reason),
            ("Job", f"{m.job_title} ({m.job_id})" if m.job_id else m.job_title),
            ("Applicant in the ATS", m.applicant_id), ("Candidate in the ATS", m.candidate_id),
            ("Attempts", str(m.attempts) if m.attempts else ""), ("Last error", m.last_error),
            ("Mailbox", m.mailbox_action + (f", now in {m.placed_folder}" if m.placed_folder else "")),
            ("Resolved by", m.resolved_by), ("Note", m.note)]
    return [(name, value) for name, value in rows if value]


def _files(m: MessageRecord) -> list[str]:
    try:
        files = json.loads(m.attachments) if m.attachments else []
    except ValueError:
        return []
    return [f"{f.get('name') or 'unnamed'} ({_size(f.get('size', 0))})" for f in files]


def _size(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB" if n >= 1_048_576 else f"{max(1, round(n / 1024))} KB"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else _aware(moment).strftime("%Y-%m-%d %H:%M UTC")


def _waited(moment: datetime | None, now: float) -> str:
    if moment is None:
        return "-"
    seconds = max(0, now - _aware(moment).timestamp())
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} days"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _day(text: str, next_day: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day + timedelta(days=1) if next_day else day


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 1


def _local(path: str) -> str:
    """Only a path on this site (never another site after login)."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


def _quoted(name: str) -> str:
    from urllib.parse import quote
    return quote(name, safe="")

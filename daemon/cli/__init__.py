"""The `ats-inbox` command line."""

from __future__ import annotations

import argparse
import gc
import getpass
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from daemon import __version__
from daemon.domain import Role, Status
from daemon.errors import AtsInboxError, ConfigError, DatabaseReplaced
from daemon.ops import logs
from daemon.settings.keys import ATS_TOKEN_ENV, CONFIG_ENV

if TYPE_CHECKING:
    from daemon.config import Settings

# The parser imports nothing heavy: each command imports what it uses when it runs (`--help`, a usage error and
# the database commands never load the web stack, the scheduler, Prometheus or, with a schema at head, Alembic).

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
CONFIG_HELP = f"configuration file (default: ${CONFIG_ENV})"
# Commands that talk to the mailbox or the ATS; the others only use the database and run
# without the IMAP password and the ATS token.
NEED_SECRETS = {("poll",), ("run",), ("backfill",), ("messages", "retry"), ("check",), ("web",)}
# Commands that use the mailbox but never the ATS; `resolve` runs without the password too
# (the record is resolved, the output says the mailbox was not updated).
NEED_IMAP, WANT_IMAP = {("messages", "open")}, {("messages", "resolve")}

DESCRIPTION = """\
Turns a jobs@ mailbox into applications in the Skailer ATS: reads new mail over IMAP,
picks the PDF/DOC/DOCX resumes, finds the job the mail is for, creates the applicant and
the candidate, and records every message and every ATS step in a database.

First time? Run `ats-inbox demo`: it needs no mail server and no ATS account."""

EPILOG = f"""\
The configuration file is given by --config PATH or ${CONFIG_ENV}; secrets may come from
ATS_INBOX_IMAP_PASSWORD and ATS_INBOX_ATS_TOKEN. Exit codes: 0 done (also when mail was set
aside), 1 the pass could not run or stopped early (mailbox unreachable, ATS not answering
or misdirected, database locked), 2 bad configuration or a database replaced under the
daemon (a person must look first; the systemd unit does not restart on 2)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ats-inbox", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"ats-inbox {__version__}")
    parser.add_argument("--log-level", default=None, choices=LOG_LEVELS,
                        help="how much to log to stderr (default INFO; WARNING for demo)")
    parser.add_argument("--config", metavar="PATH", default=None,
                        help=f"{CONFIG_HELP}; also accepted after the command")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, config: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--log-level", default=argparse.SUPPRESS, choices=LOG_LEVELS,
                         help="as the global --log-level, also accepted after the command")
        if config:
            _config_argument(sub)
        return sub

    poll = command("poll", "Run one pass over new mail, then exit (0 also when some mail was set aside).")
    poll.add_argument("--dry-run", action="store_true",
                      help="say what the pass would do with each new mail (who, resumes, job, stage, source, "
                           "or why it would be set aside or ignored) and touch nothing: no ATS write, no flag, "
                           "no move, no record")
    backfill = command("backfill", "Take in mail the first pass left out ([imap] since / skip_seen): every "
                                   "message of the folder since DATE that has no record, with the same journal.")
    backfill.add_argument("--since", type=_day, required=True, metavar="DATE",
                          help="the first arrival date to take in (YYYY-MM-DD)")
    backfill.add_argument("--dry-run", action="store_true",
                          help="say what the backfill would do with each message, as `poll --dry-run` does, "
                               "and touch nothing")
    command("run", "Run the daemon: a pass every [schedule] interval_seconds until SIGTERM, SIGINT or SIGHUP.")
    command("check", "Check before going live: IMAP login and folders, the ATS token, the source, the rules; "
                     "list the open jobs and how mail reaches them. Exit 0 only when everything is ready.")
    status = command("status", "Show what was processed, what was set aside and why, and the last pass.")
    status.add_argument("--limit", type=int, default=20, help="how many recent messages to list (default 20)")
    db = command("db", "Database maintenance.", config=False)
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_commands.add_parser("upgrade", help="Create the database or migrate it to the latest schema.")
    _config_argument(upgrade)
    copy = db_commands.add_parser(
        "copy", help="Copy this configuration's database (every table: the journal, folder positions, people) into "
                     "another one, e.g. from SQLite to PostgreSQL, so that no mail is taken in again there. Stop "
                     "the daemon first.")
    copy.add_argument("--to", required=True, metavar="URL",
                      help="the target database, e.g. postgresql+psycopg://ats@db.example.org/ats_inbox (migrated "
                           "first; a password is best left to ~/.pgpass or PGPASSWORD)")
    copy.add_argument("--replace", action="store_true",
                      help="remove what the target database holds first (without it, a target with data is refused)")
    _config_argument(copy)
    queue = command("messages", "The review queue: see, retry or resolve set-aside mail.", config=False)
    _messages_arguments(queue)
    _sandbox_arguments(command("sandbox", "Serve the sandbox ATS: a local stand-in for Skailer.", config=False))
    demo = command("demo", "Run the whole flow on bundled sample mail into a local sandbox ATS.", config=False)
    demo.add_argument("--workdir", type=Path, default=Path("ats-inbox-demo"),
                      help="where the demo keeps its databases (default ./ats-inbox-demo)")
    demo.add_argument("--mail", type=Path, default=None,
                      help="a folder of .eml files or a Maildir to use instead of the bundled samples")
    command("web", "Serve the review page for recruiters on [web] listen (default 127.0.0.1:8080) until stopped.")
    users = command("users", "The review page's local accounts (recruiter or admin).", config=False)
    _users_arguments(users)
    _rules_arguments(command("rules", "Routing rules: check them, or try them on mail (see rules/README.md).",
                             config=False))
    return parser


def _config_argument(sub: argparse.ArgumentParser) -> None:
    """--config after the command; SUPPRESS keeps a --config given before the command."""
    sub.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=CONFIG_HELP)


MESSAGE_STATUSES = tuple(Status)
RESOLVE_STATUSES = (Status.REVIEW, Status.UNCERTAIN, Status.PENDING)
MESSAGES_HELP = """\
Mail the daemon set aside waits here for a person: `review` (a permanent problem: no
resume, no job matched, refused by the ATS, or it kept failing) and `uncertain` (a create
call was sent but its answer was lost: check in the ATS whether it happened). Times are UTC."""


def _messages_arguments(sub: argparse.ArgumentParser) -> None:
    sub.description, sub.formatter_class = MESSAGES_HELP, argparse.RawDescriptionHelpFormatter
    actions = sub.add_subparsers(dest="messages_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_text, description=help_text)
        _config_argument(parser)
        return parser

    listing = action("list", "List recorded messages: those that need a person (review, uncertain) "
                             "first, then the others, newest first.")
    listing.add_argument("--status", action="extend", nargs="+", choices=MESSAGE_STATUSES,
                         metavar="STATUS",
                         help=f"only these statuses (repeatable): {', '.join(MESSAGE_STATUSES)}; "
                              "default: all")
    listing.add_argument("--limit", type=int, default=50,
                         help="how many messages to list (default 50)")
    show = action("show", "Show everything recorded about one message and its timeline of steps.")
    show.add_argument("id", type=_message_id, metavar="ID",
                      help="the message's number (see `messages list`)")
    retry = action("retry", "Put a review or uncertain message back in the queue: the next pass "
                            "takes it again and resumes from its journal (done steps are not "
                            "repeated); its mail is moved back from imap.review_folder.")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("id", type=_message_id, nargs="?", metavar="ID", help="the message's number")
    which.add_argument("--all", action="store_true", help="every message in review")
    retry.add_argument("--include-uncertain", action="store_true",
                       help="with --all: uncertain ones too (only after checking each in the ATS)")
    retry.add_argument("--job", metavar="JOB", action="append", default=[],
                       help="send it to this open job (its ATS id, job code or exact title) instead of routing "
                            "it again; repeat for several jobs (one applicant, a candidate in each); needs one ID")
    retry.add_argument("--stage", metavar="STAGE", action="append", default=[],
                       help="with --job: this stage of the job's pipeline (default: the first); one --stage "
                            "for every job, or one per --job in the same order")
    resolve = action("resolve", "Mark review, uncertain or pending messages as dealt with: by ID, or all in "
                                "--status (older than --older-than). Their flagged mail is unflagged, marked "
                                "done and moved to imap.processed_folder when one is set.")
    resolve.add_argument("ids", type=_message_id, nargs="*", metavar="ID", help="the messages' numbers")
    resolve.add_argument("--status", action="extend", nargs="+", choices=RESOLVE_STATUSES, metavar="STATUS",
                         help=f"instead of IDs: every message in these statuses ({', '.join(RESOLVE_STATUSES)})")
    resolve.add_argument("--older-than", type=_age, default=None, metavar="AGE",
                         help="with --status: only those recorded more than AGE ago, e.g. 30d")
    resolve.add_argument("--by", default=None, metavar="NAME",
                         help="who resolved them (default: your login name)")
    resolve.add_argument("--note", type=_note, required=True, help="what was done (required)")
    opened = action("open", "Write the original mail, as the IMAP server has it now, to a file or stdout, "
                            "for a person to read; it is not marked read.")
    opened.add_argument("id", type=_message_id, metavar="ID", help="the message's number")
    opened.add_argument("--output", "-o", type=Path, default=None, metavar="FILE",
                        help="a new file to create, readable by you only (default: stdout)")
    purge = action("purge", "Remove one person's data from the database on request: the sender, subject, "
                            "date, file names and notes of their messages, and the applicant remembered for "
                            "the address. The ATS and the mailbox keep their copies.")
    purge.add_argument("--email", required=True, metavar="ADDRESS", help="the person's e-mail address")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _message_id(text: str) -> int:
    """A message number as `messages list` shows it: 42 or #42."""
    try:
        value = int(text.removeprefix("#"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a message number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a message number: {text!r}")
    return value


def _note(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty: say what was done")
    return text.strip()


def _sandbox_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sub.add_argument("--port", type=int, default=8025, help="port to listen on (default 8025)")
    sub.add_argument("--db", type=Path, default=Path("sandbox-ats.db"), help="state file (default sandbox-ats.db)")
    sub.add_argument("--seed", type=Path, default=None, help="jobs, pipelines and sources to start with (JSON)")
    token = sub.add_mutually_exclusive_group()
    token.add_argument("--token", default=None,
                       help="require this bearer token (visible to other users in `ps`: "
                            "prefer --token-file or $ATS_INBOX_SANDBOX_TOKEN)")
    token.add_argument("--token-file", type=Path, default=None, metavar="PATH",
                       help="require the bearer token in this file (default: "
                            "$ATS_INBOX_SANDBOX_TOKEN, else no token)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "messages_command", None) == "resolve":
        _check_resolve(parser, args)
    logs.setup(args.log_level or ("WARNING" if args.command == "demo" else "INFO"))
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"ats-inbox: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except DatabaseReplaced as exc:  # a person must look first: not restarted by systemd either
        print(f"ats-inbox: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except AtsInboxError as exc:
        print(f"ats-inbox: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in ("poll", "backfill", "run"):  # the commands that read mail, large attachments with it
        from daemon.ops import allocator

        allocator.give_back_large_blocks()
        if not getattr(args, "dry_run", False):  # a dry run builds no parts to settle
            with _collector_off_until_settled():
                return _dispatch_command(args)
    return _dispatch_command(args)


@contextmanager
def _collector_off_until_settled() -> Iterator[None]:
    """The start of a pass or of the daemon, up to `assembly.settle` (its parts built): the cyclic collector is
    off, as its collections would walk the growing heap of modules and parts, all kept for the process's life;
    `settle` turns it on again (and here, whatever happens, once the command ends)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _dispatch_command(args: argparse.Namespace) -> int:
    from daemon.cli import commands

    if args.command == "sandbox":
        return commands.sandbox(args.host, args.port, args.db, args.seed, args.token, args.token_file)
    if args.command == "demo":
        return commands.demo(args.workdir, args.mail)
    settings = _settings(args)
    handlers = {"poll": lambda s: commands.dry_run(s) if args.dry_run else commands.poll(s),
                "backfill": lambda s: (commands.dry_run(s, backfill_since=args.since) if args.dry_run
                                       else commands.poll(s, backfill_since=args.since)),
                "run": commands.run, "status": lambda s: commands.status(s, args.limit),
                "db": lambda s: (commands.db_copy(s, args.to, args.replace) if args.db_command == "copy"
                                 else commands.db_upgrade(s)),
                "messages": lambda s: _messages(commands, s, args),
                "rules": lambda s: _rules(commands, s, args), "check": commands.check,
                "web": _web, "users": lambda s: _users(s, args)}
    return handlers[args.command](settings)


def _users_arguments(sub: argparse.ArgumentParser) -> None:
    actions = sub.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="Add an account, or give it a new role and password (asked twice).")
    add.add_argument("name", help="the name the person logs in with")
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.RECRUITER.value,
                     help="recruiter (works the queue; the default) or admin (also the status page)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    remove = actions.add_parser("remove", help="Remove an account.")
    remove.add_argument("name")
    listing = actions.add_parser("list", help="List the accounts and their roles.")
    for parser in (add, remove, listing):
        _config_argument(parser)


def _users(settings: Settings, args: argparse.Namespace) -> int:
    from daemon.cli import web

    if args.users_command == "add":
        return web.users_add(settings, args.name, args.role, args.password_stdin)
    if args.users_command == "remove":
        return web.users_remove(settings, args.name)
    return web.users_list(settings)


def _web(settings: Settings) -> int:
    from daemon.cli import web

    return web.serve(settings)


def _messages(commands, settings: Settings, args: argparse.Namespace) -> int:
    actions = {
        "list": lambda: commands.messages_list(settings, args.status or (), args.limit),
        "show": lambda: commands.messages_show(settings, args.id),
        "retry": lambda: commands.messages_retry(settings, args.id, args.include_uncertain, args.job,
                                                 args.stage),
        "resolve": lambda: commands.messages_resolve(settings, args.ids, args.note, _resolver(args.by),
                                                     args.status or (), args.older_than,
                                                     getattr(args, "mailbox_off", "")),
        "open": lambda: commands.messages_open(settings, args.id, args.output),
        "purge": lambda: commands.messages_purge(settings, args.email),
    }
    return actions[args.messages_command]()


RULES_HELP = """\
The rule files are the *.toml files in [rules] path, read in file-name order; the first rule
that matches a mail decides (rules/README.md lists every key). Exit codes: `check` 0 valid,
1 problems found (each with file and line); `test` 0 done (unreadable mail is reported),
2 invalid rules, a bad configuration or a path that does not exist; 1 the ATS did not answer."""


def _rules_arguments(sub: argparse.ArgumentParser) -> None:
    sub.description, sub.formatter_class = RULES_HELP, argparse.RawDescriptionHelpFormatter
    actions = sub.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="Report every problem of the rule files at once, and check the "
                                             "jobs, stages and sources they name against the ATS (when its "
                                             "token is available).")
    test = actions.add_parser("test", help="Show what the rules decide for mail, and why; reads the ATS's jobs, "
                                           "creates nothing.")
    test.add_argument("paths", type=Path, nargs="+", metavar="MAIL",
                      help="a .eml file, a folder of .eml files or a Maildir (one line a mail and a summary)")
    test.add_argument("--json", action="store_true", help="one JSON object per mail, one per line")
    test.add_argument("--explain", action="store_true", help="also say why each earlier rule did not match")
    for parser in (check, test):
        _config_argument(parser)
        parser.add_argument("--rules", type=Path, default=None, metavar="FOLDER",
                            help="a rule folder to use instead of [rules] path (to try a new set first)")


def _rules(commands, settings: Settings, args: argparse.Namespace) -> int:
    if args.rules_command == "check":
        return commands.rules_check(settings, args.rules)
    return commands.rules_test(settings, args.paths, args.rules, as_json=args.json, explain=args.explain)


def _settings(args: argparse.Namespace) -> Settings:
    from daemon.config import config_path, load_settings

    action = (getattr(args, "messages_command", None) or getattr(args, "db_command", None)
              or getattr(args, "users_command", None))
    words = (args.command, action) if action else (args.command,)
    path = config_path(args.config)
    if words in NEED_IMAP | WANT_IMAP:
        no_token = {**os.environ, ATS_TOKEN_ENV: "unused"}  # these commands never call the ATS
        try:
            return load_settings(path, no_token, need_secrets=True)
        except ConfigError as exc:
            if words in NEED_IMAP:
                raise
            args.mailbox_off = f"no IMAP password: {exc}"
    return load_settings(path, need_secrets=words in NEED_SECRETS)


def _check_resolve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """IDs or --status, not both; --older-than only with --status (a usage error, exit 2)."""
    if bool(args.ids) == bool(args.status):
        parser.error("messages resolve: give message numbers or --status (with --older-than), not both")
    if args.older_than is not None and not args.status:
        parser.error("messages resolve: --older-than goes with --status, e.g. --status review --older-than 30d")


def _age(text: str) -> timedelta:
    """An age as `30d` (days) or `2w` (weeks); a bare number is days."""
    number, unit = (text[:-1], text[-1].lower()) if text[-1:].isalpha() else (text, "d")
    if not number.isdigit() or unit not in "dw":
        raise argparse.ArgumentTypeError(f"not an age: {text!r} (write e.g. 30d or 2w)")
    return timedelta(days=int(number) * (7 if unit == "w" else 1))


def _resolver(by: str | None) -> str:
    """Who resolves: --by, else the login name (the one behind sudo when run with sudo)."""
    if by is not None and by.strip():
        return by.strip()
    return os.environ.get("SUDO_USER") or getpass.getuser()


if __name__ == "__main__":
    sys.exit(main())

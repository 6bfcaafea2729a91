"""Does mail-parser earn its place, and what reading a new mail's header block costs.

    .venv/bin/python -m benchmarks.parsing [--repeat 5] [--generated 100]

mail-parser is no longer a dependency; this script needs it installed to compare
(`.venv/bin/pip install 'mail-parser>=4.1,<5'`). It reads every mail of the test corpus
(`tests/fixtures/emails`, `daemon/samples`) and `--generated` applications of the benchmark's
mailbox (`generate.py`: 100-400 KB CVs), and prints, all measured in this one run:

1. Fields: each mail parsed by `parse_email` (the standard library alone) and by the same
   parse with mail-parser's header reading over it, as the daemon did until it was removed
   (`with_mailparser`: its sender and subject from the header block, where the header is
   7-bit and the stdlib's reading shows no U+FFFD). Every `ParsedEmail` field is compared;
   also over `CRAFTED` From and Subject values, the cases where the two readings once
   differed. And mail-parser's reading of each whole mail: where it raises, and where its
   defects handling recovers a part that the stdlib tree keeps in an epilogue.
2. Time: the best of `--repeat` passes over each set, per way of reading, and their ratios.
3. The header block of a new mail: the readings the runner and the flow make of it
   (`identify` for the content key and the sender, the tree of `parse_email`, mail-parser's
   parse of the block when it was there), and what each costs per mail.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
import sys
import time
from collections.abc import Callable
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

from benchmarks.generate import LARGE_EVERY, mail
from daemon.errors import UnparseableMail
from daemon.mail import ParsedEmail
from daemon.mail.identity import identify
from daemon.mail.parsing import SUBJECT_MAX_CHARS, _message_tree, _one_line, _pick_sender, header_text, parse_email
from tests.mailfactory import build_email

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted(p for p in (ROOT / "tests" / "fixtures" / "emails").iterdir() if p.name != "SOURCES.md")
SAMPLES = sorted((ROOT / "daemon" / "samples").glob("*.eml"))
# From and Subject values where mail-parser's reading and the stdlib's once differed, and neighbours.
CRAFTED_FROM = (
    "jane@example.com <jane.doe@example.org>", "J a@b.example <d@e.example>", "a@b.example d@e.example <g@h.example>",
    "jane@example.org <jane@example.org>", "Jane Doe <jane@example.com", '"Doe, Jane" <JANE@EXAMPLE.COM>',
    "=?utf-8?q?Rene=CC=81?= <r@example.org>", "=?utf-8?q?a=40b.example?= <d@e.example>", "jane@example.org (Jane)",
    "a@example.com, b@example.org", "undisclosed-recipients:;",
)
CRAFTED_SUBJECT = (
    "=?utf-8?q?Re=CC=81sume=CC=81?=", "Re\u0301sume\u0301", "=?utf-8?b?A?= x", "Bewerbung =?utf-8?q?f=C3=BCr?=",
)
# The header block as the stdlib parser reads it (what the removed `header_block` gave mail-parser).
_HEADER_BLOCK_END = re.compile(rb"(?:(?<=\n)|(?<=\r)(?!\n))(?!From |[\x21-\x39\x3b-\x7e]*:|[\t ])")
_HEADER_BLOCK_MAX_BYTES = 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.parsing")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--generated", type=int, default=100)
    args = parser.parse_args(argv)
    try:
        import mailparser  # optional: only this comparison needs it
    except ImportError:
        print("mail-parser is not installed: .venv/bin/pip install 'mail-parser>=4.1,<5'", file=sys.stderr)
        return 2
    logging.getLogger("mailparser").setLevel(logging.CRITICAL)
    sets = {
        "corpus": _parseable([p.read_bytes() for p in CORPUS + SAMPLES]),
        "generated": _parseable([mail(1, n)[0] for n in range(1, args.generated + 1) if n % LARGE_EVERY != 250]),
    }
    crafted = [build_email(sender=None, headers={"From": v}) for v in CRAFTED_FROM]
    crafted += [build_email(subject=None, headers={"Subject": v}) for v in CRAFTED_SUBJECT]
    print("1. Fields: parse_email against parse_email with mail-parser's header reading")
    for name, mails in {**sets, "crafted": crafted}.items():
        print(f"   {name:9} {_differences(mails, mailparser)}")
    print(f"   mail-parser on whole corpus mails: {_whole_mail_findings(mailparser)}")
    times = {name: _times(mails, mailparser, args.repeat) for name, mails in sets.items()}
    print(f"\n2. Time (each the best of {args.repeat} passes, the ways of reading taken in turn in each pass)")
    for name, mails in sets.items():
        plain, both = times[name]["parse_email"], times[name]["with mail-parser"]
        print(f"   {name:9} {len(mails):4} mails: parse_email {_ms(plain, mails)}, with mail-parser "
              f"{_ms(both, mails)}: {both / plain:.3f} x ({(both / plain - 1) * 100:+.1f} %)")
    print("\n3. The header block of a new mail, per mail")
    for name, mails in sets.items():
        _header_reads(name, mails, times[name])
    return 0


def with_mailparser(raw: bytes, mailparser) -> ParsedEmail:
    """The parse as it was with mail-parser: its sender and subject over the stdlib's reading."""
    parsed = parse_email(raw)
    head = _header_block(raw)
    if head is None:
        return parsed
    mail_ = mailparser.parse_from_bytes(head)
    if mail_.message is None or not mail_.message.keys():
        return parsed
    head_tree = mail_.message  # the raw header values, as the daemon read them from its own tree
    name, address = _pick_sender(mail_.from_)
    if not address or not _plain(head_tree, "from", parsed.sender_name):
        name, address = parsed.sender_name, parsed.sender_email
    subject = _one_line(mail_.subject[0] if isinstance(mail_.subject, list) else mail_.subject)[:SUBJECT_MAX_CHARS]
    if not _plain(head_tree, "subject", parsed.subject):
        subject = parsed.subject
    return dataclasses.replace(parsed, sender_name=name, sender_email=address, subject=subject)


def _plain(message: Message, name: str, stdlib_text: str) -> bool:
    return header_text(message, name).isascii() and "\ufffd" not in stdlib_text


def _header_block(raw: bytes) -> bytes | None:
    end = _HEADER_BLOCK_END.search(raw, 1, _HEADER_BLOCK_MAX_BYTES + 1)
    if end is not None:
        return raw[: end.start()]
    return raw if len(raw) <= _HEADER_BLOCK_MAX_BYTES else None


def _parseable(mails: list[bytes]) -> list[bytes]:
    kept = []
    for raw in mails:
        try:
            parse_email(raw)
        except UnparseableMail:
            continue
        kept.append(raw)
    return kept


def _differences(mails: list[bytes], mailparser) -> str:
    by_field: dict[str, int] = {}
    differing = 0
    for raw in mails:
        one, other = parse_email(raw), with_mailparser(raw, mailparser)
        fields = [f.name for f in dataclasses.fields(ParsedEmail) if getattr(one, f.name) != getattr(other, f.name)]
        differing += bool(fields)
        for name in fields:
            by_field[name] = by_field.get(name, 0) + 1
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(by_field.items())) or "no field"
    return f"{len(mails):4} mails, {differing} differ ({detail})"


def _whole_mail_findings(mailparser) -> str:
    """Where mail-parser raises on a whole mail, and where the stdlib tree holds a part of the
    mail's own boundary in an epilogue (what mail-parser's `EPILOGUE_DEFECTS` recovery reads)."""
    raises, recovered = [], []
    for path in CORPUS:
        raw = path.read_bytes()
        try:
            whole = mailparser.parse_from_bytes(raw)
        except Exception as exc:  # a library bug on hostile input is the finding
            raises.append(f"{path.name} ({type(exc).__name__})")
            continue
        if "StartBoundaryNotFoundDefect" in whole.defects_categories and _epilogue_parts(raw):
            recovered.append(path.name)
    return f"raises on {len(raises)} ({', '.join(raises)}); recovers an epilogue part in {recovered}"


def _epilogue_parts(raw: bytes) -> bool:
    tree = _message_tree(raw)
    boundary = tree.get_boundary() if tree.is_multipart() else None
    return bool(boundary and tree.epilogue and f"--{boundary}" in tree.epilogue)


def _times(mails: list[bytes], mailparser, repeat: int) -> dict[str, float]:
    heads = [_header_block(raw) or b"" for raw in mails]
    readers: dict[str, tuple[list[bytes], Callable[[bytes], object]]] = {
        "parse_email": (mails, parse_email),
        "with mail-parser": (mails, lambda raw: with_mailparser(raw, mailparser)),
        "identify": (mails, identify),
        "header parse": (heads, _headers_only),
        "mail-parser block": (heads, mailparser.parse_from_bytes),
    }
    best = dict.fromkeys(readers, float("inf"))
    for _ in range(repeat):
        for what, (inputs, read) in readers.items():
            started = time.perf_counter()
            for raw in inputs:
                read(raw)
            best[what] = min(best[what], time.perf_counter() - started)
    best["header block bytes"] = sum(map(len, heads))
    return best


def _header_reads(name: str, mails: list[bytes], times: dict[str, float]) -> None:
    rows = {
        "identify (content key + sender)": times["identify"],
        "  of which its header parse": times["header parse"],
        "parse_email (the tree, headers and all)": times["parse_email"],
        "  the tree's header parse, about": times["header parse"],
        "mail-parser's parse of the block (removed)": times["mail-parser block"],
    }
    print(f"   {name} ({len(mails)} mails, header block {times['header block bytes'] / len(mails) / 1024:.1f} KB):")
    for what, seconds in rows.items():
        print(f"     {what:44} {_ms(seconds, mails)}")
    now = times["identify"] + times["parse_email"]
    before = now + times["mail-parser block"]
    print(f"     a new mail: 3 readings, {_ms(before, mails)} before; 2 readings, {_ms(now, mails)} now "
          f"({(1 - now / before) * 100:.1f} % less)")


def _headers_only(head: bytes) -> Message:
    return BytesHeaderParser(policy=compat32).parsebytes(head + b"\n\n")


def _ms(seconds: float, mails: list[bytes]) -> str:
    return f"{seconds * 1000 / len(mails):.3f} ms"


if __name__ == "__main__":
    sys.exit(main())

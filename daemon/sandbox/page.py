"""The sandbox ATS's one HTML page: what it received, for a person to look at.

Every value comes from mail senders (attacker text), so every value is escaped; the
server also sends a Content-Security-Policy that forbids scripts.
"""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = ("body{font:14px system-ui,sans-serif;margin:2em}"
          "table{border-collapse:collapse;margin-bottom:2em}"
          "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}")


def render_page(state: dict[str, Any]) -> str:
    """The page for a `/_sandbox/state` snapshot."""
    names = {str(a["id"]): _full_name(a) for a in state["applicants"]}
    jobs = {str(j["id"]): j.get("title", "") for j in state["jobs"]}
    stages = {str(s["id"]): s.get("name", "")
              for p in state["pipelines"] for s in p.get("stages", [])}
    sections = [
        _table("Open jobs (mail whose subject names the title or carries the code goes here)",
               ["Id", "Title", "Code", "A subject that routes here"], [
                   [j["id"], j.get("title", ""), j.get("code") or "", _subject(j)]
                   for j in state["jobs"] if _is_open(j)]),
        _table("Applicants", ["Id", "Name", "Email", "Phone", "Source", "CVs"], [
            [a["id"], _full_name(a), a["email"], a["phone"], a["source_id"], _ids(a["cv_ids"])]
            for a in state["applicants"]]),
        _table("Candidates", ["Id", "Applicant", "Job", "Stage"], [
            [c["id"], names.get(str(c["applicant_id"]), c["applicant_id"]),
             jobs.get(str(c["job_id"]), c["job_id"]), stages.get(str(c["pipeline_stage_id"]), "")]
            for c in state["candidates"]]),
        _table("CVs", ["Id", "File name", "Type", "Bytes", "SHA-256"], [
            [_link(cv["id"]), cv["filename"], cv["content_type"], cv["size"], cv["sha256"]]
            for cv in state["cvs"]], raw_first=True),
        _table("Comments and actions", ["Id", "Candidate", "Comment", "Stage", "Dated"], [
            [a["id"], a["candidate_id"], a.get("comment") or "",
             stages.get(str(a.get("pipeline_stage_id")), ""), a.get("datetime_action_date") or ""]
            for a in state["actions"]]),
    ]
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>Sandbox ATS</title>"
            f"<style>{_STYLE}</style></head><body><h1>Sandbox ATS</h1>"
            f"{''.join(sections)}</body></html>")


def _is_open(job: dict[str, Any]) -> bool:
    return str(job.get("status") or "open").strip().casefold() == "open"


def _subject(job: dict[str, Any]) -> str:
    code = f" [{job['code']}]" if job.get("code") else ""
    return f"Application: {job.get('title', '')}{code}"


def _full_name(applicant: dict[str, Any]) -> str:
    parts = (applicant.get("first_name"), applicant.get("middle_name"), applicant.get("last_name"))
    return " ".join(str(p) for p in parts if p)


def _ids(ids: list[Any]) -> str:
    return ", ".join(str(i) for i in ids)


def _link(cv_id: Any) -> str:
    text = escape(str(cv_id))
    return f'<a href="/_sandbox/cvs/{escape(str(cv_id), quote=True)}">{text}</a>'


def _table(title: str, head: list[str], rows: list[list[Any]], *, raw_first: bool = False) -> str:
    """A titled table; cells are escaped, except a first cell built by `_link` (raw_first)."""
    heading = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(f"<tr>{_cells(row, raw_first)}</tr>" for row in rows) or (
        f'<tr><td colspan="{len(head)}">none yet</td></tr>')
    return f"<h2>{escape(title)}</h2><table><tr>{heading}</tr>{body}</table>"


def _cells(row: list[Any], raw_first: bool) -> str:
    cells = (value if raw_first and i == 0 else escape(_show(value)) for i, value in enumerate(row))
    return "".join(f"<td>{cell}</td>" for cell in cells)


def _show(value: Any) -> str:
    return "" if value is None else str(value)

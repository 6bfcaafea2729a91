"""The review page: set-aside mail in a browser, for recruiters (server-rendered, Starlette + Jinja2).

Every change goes through the code the command line uses (daemon.intake.review, .reroute) and is
written to the audit trail with who made it. `app.build(desk, access)` is the ASGI application;
`serve.Listener` runs it (inside `ats-inbox run`, or alone for `ats-inbox web`).
"""

"""ats-inbox: turns a jobs@ mailbox into applications in the Skailer ATS.

The pipeline, one message at a time:

    fetch (mailbox/) -> parse (parsing) -> pick resumes (resumes) -> route (routing)
    -> submit (ats/ + submission) -> record (store/) -> mailbox action (mailbox/)

Decisions in the middle are pure functions; effects sit at the edges behind small
interfaces.
"""

__version__ = "0.1.0"

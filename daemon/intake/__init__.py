"""Intake: a message's life, from the folder to its outcome (runner, flow, journal, submission)."""

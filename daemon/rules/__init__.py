"""Routing rules: which job, stage and source a mail goes to, or why it goes to a person.

The public surface (everything else in this package is internal):

    RuleSet                       the rules read from the `[rules] path` folder (immutable)
    load_rules(folder) -> RuleSet raises RulesInvalid listing every Problem (file, line, what to do)
    decide(...) -> Decision       pure: the parsed mail, the rules and the ATS directory in, a decision out
    Decision                      the action (submit, review, ignore), job, stage, source, rule, reasons
"""

from daemon.rules.decision import IGNORE, REVIEW, SUBMIT, Decision, decide
from daemon.rules.ruleset import Problem, RuleSet, RulesInvalid, load_rules

__all__ = ["IGNORE", "REVIEW", "SUBMIT", "Decision", "Problem", "RuleSet", "RulesInvalid", "decide", "load_rules"]

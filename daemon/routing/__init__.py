"""Routing rules: which job, stage and source a mail goes to, or why it goes to a person.

The public surface (everything else in this package is internal):

    RuleSet                       the rules read from the `[rules] path` folder (immutable)
    load_rules(folder) -> RuleSet raises RulesInvalid listing every Problem (file, line, what to do)
    fingerprint(folder) -> str    of the rule files on disk; differs from RuleSet.fingerprint after a change
    check_against(rules, jobs, pipelines, sources) -> [Problem]   unknown jobs, stages, sources
    decide(...) -> Decision       pure: the parsed mail, the rules and the ATS directory in, a decision out
    explain(...) -> Explanation   the decision and why each rule tried did or did not match
    Decision                      the action (submit, review, ignore), job, stage, source, rule, reasons

rules/README.md (the admins' page) documents every key; daemon/routing/schema.py reads them.
"""

from daemon.domain import RuleAction
from daemon.routing.checking import check_against
from daemon.routing.decision import Decision, Explanation, RuleTrial, decide, explain
from daemon.routing.problems import Problem, RulesInvalid
from daemon.routing.ruleset import RuleSet, fingerprint, load_rules

__all__ = [
           "Decision",
           "Explanation",
           "Problem",
           "RuleAction",
           "RuleSet",
           "RuleTrial",
           "RulesInvalid",
           "check_against",
           "decide",
           "explain",
           "fingerprint",
           "load_rules",
]

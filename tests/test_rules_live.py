"""The rule set in force in `run`: reloaded on a change or a request; an invalid change is refused."""

from __future__ import annotations

import os

import pytest

from daemon.routing.live import LiveRules
from daemon.routing.ruleset import Problem, RuleSet, RulesInvalid


class Loader:
    """Reads nothing: returns the next scripted rule set, or raises the scripted problems."""

    def __init__(self, *results):
        self.results, self.calls = list(results), 0

    def __call__(self, folder):
        self.calls += 1
        result = self.results.pop(0)
        if isinstance(result, RulesInvalid):
            raise result
        return result


def touch(folder, name, text):
    path = folder / name
    path.write_text(text)
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9, path.stat().st_mtime_ns + 10**9))


def test_invalid_rules_at_start_are_refused(tmp_path):
    """The daemon does not start with an invalid rule set."""
    with pytest.raises(RulesInvalid):
        LiveRules(tmp_path, Loader(RulesInvalid([Problem("a.toml", 3, "unknown key 'subjet'")])))


def test_unchanged_files_are_not_read_again(tmp_path):
    """Before each message the files are only looked at (names, sizes, times), not read."""
    loader = Loader(RuleSet(tmp_path, fingerprint="one"))
    live = LiveRules(tmp_path, loader)
    for _ in range(3):
        assert live.current().fingerprint == "one"
    assert loader.calls == 1


def test_a_changed_file_is_picked_up_before_the_next_message(tmp_path):
    """An edited rule file replaces the rule set at the next message, without a restart."""
    touch(tmp_path, "10-jobs.toml", "old")
    live = LiveRules(tmp_path, Loader(RuleSet(tmp_path, fingerprint="old"), RuleSet(tmp_path, fingerprint="new")))
    touch(tmp_path, "10-jobs.toml", "new text")
    assert live.current().fingerprint == "new"
    assert live.problems == ""


def test_an_invalid_change_keeps_the_last_good_rules_and_says_why(tmp_path):
    """A broken edit is refused: the old rules stay in force and the problems are kept for `status`."""
    touch(tmp_path, "10-jobs.toml", "good")
    broken = RulesInvalid([Problem("10-jobs.toml", 4, "bad regular expression")])
    live = LiveRules(tmp_path, Loader(RuleSet(tmp_path, fingerprint="good"), broken))
    touch(tmp_path, "10-jobs.toml", "broken!")
    assert live.current().fingerprint == "good"
    assert live.problems == "10-jobs.toml:4: bad regular expression"


def test_a_reload_request_reads_the_files_again(tmp_path):
    """SIGHUP reads the folder again even when nothing seems changed."""
    loader = Loader(RuleSet(tmp_path, fingerprint="a"), RuleSet(tmp_path, fingerprint="b"))
    live = LiveRules(tmp_path, loader)
    live.request_reload()
    assert live.current().fingerprint == "b"
    assert loader.calls == 2

"""The rule set in force in `run`: reloaded on a change or a request; an invalid change is refused."""

from __future__ import annotations

import os

import pytest

from daemon.routing.live import LiveRules
from daemon.routing.ruleset import Problem, RuleSet, RulesInvalid, fingerprint


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


RULE = '[[rule]]\nname = "{name}"\nsubject = "x"\njob_code = "A-1"\n'


def test_a_folder_swapped_by_a_symlink_to_files_of_the_same_name_size_and_time_is_reloaded(tmp_path):
    """Pointing the rules folder's symlink at a copy (cp -p, tar, rsync) whose files differ only in content
    loads the new rules before the next message, and the rules in force are the files on disk."""
    old, new = tmp_path / "rules-1", tmp_path / "rules-2"
    old.mkdir(), new.mkdir()
    (old / "10-jobs.toml").write_text(RULE.format(name="aaa"))
    (new / "10-jobs.toml").write_text(RULE.format(name="bbb"))
    os.utime(new / "10-jobs.toml", ns=(0, (old / "10-jobs.toml").stat().st_mtime_ns))  # as cp -p kept it
    link = tmp_path / "rules"
    link.symlink_to(old)
    live = LiveRules(link)
    assert [r.name for r in live.current().rules] == ["aaa"]
    swap = tmp_path / "rules.new"
    swap.symlink_to(new)
    swap.replace(link)  # as a deployment swaps it: rename over the old link
    assert [r.name for r in live.current().rules] == ["bbb"]
    assert live.current().fingerprint == fingerprint(link)


def test_a_file_replaced_in_place_with_the_same_size_and_time_is_reloaded(tmp_path):
    """A rule file replaced by another of the same name, size and modification time (rsync -t, mv of a copy)
    is read again before the next message."""
    path = tmp_path / "10-jobs.toml"
    path.write_text(RULE.format(name="aaa"))
    live = LiveRules(tmp_path)
    staged = tmp_path / ".10-jobs.toml.tmp"
    staged.write_text(RULE.format(name="bbb"))
    os.utime(staged, ns=(0, path.stat().st_mtime_ns))
    staged.replace(path)
    assert [r.name for r in live.current().rules] == ["bbb"]

"""Edge cases at the edges of the CLI: what the README promises, install on odd settings files and worktrees,
bad command-line input."""

import json
import subprocess

from helpers import run_cli


def run(repo, *args, agent="edge", cwd=None, env=None):
    return run_cli(cwd or repo, *args, agent=agent, env=env)


def assert_bad_input(proc):
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith("agent-sync:"), proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr


def _strict_json(text):
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


# -- install ----------------------------------------------------------------------------------------------

def test_install_with_null_hooks_is_not_an_internal_error(repo):
    settings = repo / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{"hooks": null}\n')
    proc = run(repo, "install")
    assert proc.returncode in (0, 1), proc.stderr
    assert "internal error" not in proc.stderr


def test_install_keeps_settings_valid_json(repo):
    settings = repo / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{"x": 1e999}\n')
    proc = run(repo, "install")
    if proc.returncode == 0:
        _strict_json(settings.read_text())
    else:
        assert_bad_input(proc)
        assert settings.read_text() == '{"x": 1e999}\n'


def test_install_refuses_settings_with_nan(repo):
    settings = repo / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{"x": NaN}\n')
    proc = run(repo, "install")
    assert_bad_input(proc)
    assert settings.read_text() == '{"x": NaN}\n'


def test_install_in_a_linked_worktree_installs_for_that_worktree(repo, tmp_path):
    git = ["git", "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=repo, check=True)
    worktree = tmp_path / "wt"
    subprocess.run(["git", "worktree", "add", "-q", str(worktree)], cwd=repo, check=True)
    proc = run(repo, "install", cwd=worktree)
    assert proc.returncode == 0, proc.stderr
    # Claude Code started in the worktree reads the worktree's own .claude/settings.json
    assert (worktree / ".claude" / "settings.json").is_file(), proc.stdout


def test_user_scope_with_empty_home_does_not_target_the_filesystem_root(repo):
    proc = run(repo, "install", "--scope", "user", "--dry-run", "--json", env={"HOME": ""})
    if proc.returncode == 0:
        paths = [c["path"] for c in json.loads(proc.stdout)["changes"]]
        assert not any(p.startswith("/.claude/") for p in paths), paths
    else:
        assert_bad_input(proc)


# -- append -----------------------------------------------------------------------------------------------

def test_append_below_a_file_is_bad_input(repo):
    proc = run(repo, "append", "README.md/x", "--content", "y")
    assert_bad_input(proc)
    assert (repo / "README.md").read_text() == "# demo\n"


def test_append_to_an_over_long_name_is_bad_input(repo):
    proc = run(repo, "append", "x" * 300, "--content", "y")
    assert_bad_input(proc)


# -- JSON shapes the README documents ---------------------------------------------------------------------

def test_json_times_are_iso_8601(repo):
    status = json.loads(run(repo, "status", "--json").stdout)
    whoami = json.loads(run(repo, "whoami", "--json").stdout)
    for value in (status["agents"][0]["last_seen"], whoami["last_seen"]):
        assert isinstance(value, str) and value.endswith("Z"), value


def test_tasks_json_always_has_owner_status(repo):
    assert run(repo, "create-task", "free").returncode == 0
    task = json.loads(run(repo, "tasks", "--json").stdout)["tasks"][0]
    assert "owner_status" in task, sorted(task)


# -- settings and error text ----------------------------------------------------------------------------

def test_config_error_names_the_real_line(repo):
    (repo / ".agent-sync.toml").write_text('[agent-sync]\nedit_policy = "auto"\n')
    proc = run(repo, "config")
    assert_bad_input(proc)
    assert ".agent-sync.toml:1:" in proc.stderr, proc.stderr


def test_error_message_stays_one_line_with_a_newline_in_the_input(repo):
    proc = run(repo, "renew", "a\nb")
    assert_bad_input(proc)


def test_flags_may_come_between_targets(repo):
    result = run(repo, "lock", "README.md", "--resource", "db", "src/app.py", "--reason", "two things")
    assert result.returncode == 0, result.stderr
    held = json.loads(run(repo, "locks", "--json").stdout)["locks"]
    assert sorted(lock["target"] for lock in held) == ["README.md", "resource:db", "src/app.py"]
    assert {lock["reason"] for lock in held} == {"two things"}

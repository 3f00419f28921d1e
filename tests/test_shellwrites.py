"""Static analysis of shell commands: which paths they write, which git commands are repository-wide."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_sync.shell import ShellAnalysis, analyze_bash, analyze_powershell

pytestmark = pytest.mark.one_store  # pure shell parsing: no store opened

# (command, expected writes, expected destructive kinds, expected maybe_branch_switch)
WRITES = [
    # redirections
    ("echo hi > out.txt", ["out.txt"]),
    ("echo hi >> log.txt", ["log.txt"]),
    ("echo hi >| forced.txt", ["forced.txt"]),
    ("make &> build.log", ["build.log"]),
    ("make &>> build.log", ["build.log"]),
    ("cmd 2> err.log", ["err.log"]),
    ("cmd 3>fd3.txt", ["fd3.txt"]),
    ("cmd > out.txt 2>&1", ["out.txt"]),
    ("exec 4<> rw.dat", ["rw.dat"]),
    ("python gen.py > /abs/generated.json", ["/abs/generated.json"]),
    ("echo 'quoted > not a redirect' > 'my file.txt'", ["my file.txt"]),
    ("if true; then echo a; fi > if.log", ["if.log"]),
    # compound commands and cd
    ("cd sub && echo x > f", ["sub/f"]),
    ("cd sub; rm a; cd ..; rm b", ["sub/a", "b"]),
    ("cd /tmp/work && touch x", ["/tmp/work/x"]),
    ("cd sub && echo x > ../up.txt", ["up.txt"]),
    ("(cd sub; rm f); rm g", ["sub/f", "g"]),
    ("{ cd sub; rm f; }; rm g", ["sub/f", "sub/g"]),
    ("pushd lib && rm x && popd && rm y", ["lib/x", "y"]),
    ("cd ~/proj && rm f", ["~/proj/f"]),
    ("rm a || rm b; rm c & rm d\nrm e | cat", ["a", "b", "c", "d", "e"]),
    ("true && (rm in_subshell)", ["in_subshell"]),
    # substitutions and nested shells
    ("echo $(rm -rf gone) `touch made`", ["gone", "made"]),
    ('echo "$(sed -i s/a/b/ quoted.py)"', ["quoted.py"]),
    ("x=$(rm assigned)", ["assigned"]),
    ("diff <(sort a) >(tee procsub.txt)", ["procsub.txt"]),
    ("bash -c 'rm x && echo > y'", ["x", "y"]),
    ('sh -c "cd d; touch z"', ["d/z"]),
    ("bash -lc 'git rm -q old.py'", ["old.py"]),
    ("eval 'rm evaluated'", ["evaluated"]),
    ("bash <<'EOF'\nrm from_heredoc_script\nEOF", ["from_heredoc_script"]),
    # heredocs: the body is not code
    ("cat <<EOF > f\nbody > x 'unbalanced\nEOF\necho ok > g", ["f", "g"]),
    ("cat > cfg.ini <<'EOF'\n$(rm nothing)\nEOF", ["cfg.ini"]),
    ("cat <<-EOF >tabbed\n\tbody\n\tEOF\nrm after", ["tabbed", "after"]),
    ('cat <<"END" | tee a.log b.log\nrm x\nEND', ["a.log", "b.log"]),
    # prefixes
    ("FOO=1 BAR='x y' rm -rf build dist", ["build", "dist"]),
    ("sudo -u root rm /etc/x", ["/etc/x"]),
    ("echo hi | sudo tee /etc/hosts > /dev/null", ["/etc/hosts"]),
    ("env -i PATH=/bin rm r", ["r"]),
    ("command rm c", ["c"]),
    ("nohup time -p nice -n 5 rm q", ["q"]),
    ("timeout -s KILL 5 rm t", ["t"]),
    ("\\rm escaped", ["escaped"]),
    ("/bin/rm absolute_rm", ["absolute_rm"]),
    ("xargs rm -f explicit", ["explicit"]),
    ("find . -name '*.pyc' -exec rm -f stale.txt {} \\;", ["stale.txt", "./**/*.pyc"]),
    ("find src -name '*.py' -exec sed -i s/a/b/ {} +", ["src/**/*.py"]),
    ("find src -type f -o -name x -exec rm {} +", ["src/"]),
    ('for f in a b; do sed -i s/x/y/ "$f"; done', ["$f"]),
    ("f() { rm -rf build; }", ["build"]),
    # writers
    ("tee out1 out2", ["out1", "out2"]),
    ("ls | tee -a listing.txt", ["listing.txt"]),
    ("sed -i 's/a/b/' a.py b.py", ["a.py", "b.py"]),
    ("sed -i.bak -e s/a/b/ -e s/c/d/ x.py", ["x.py"]),
    ("sed --in-place=.orig -E 's/a/b/' y.py", ["y.py"]),
    ("sed -i '' 's/a/b/' bsd.py", ["bsd.py"]),
    ("sed -n -i -f script.sed z.py", ["z.py"]),
    ("perl -pi -e 's/a/b/' f.pl", ["f.pl"]),
    ("perl -i.bak -pe 's/a/b/' f g", ["f", "g"]),
    ("mv a b", ["a", "b"]),
    ("mv -f a b dir/", ["a", "b", "dir/a", "dir/b"]),
    ("mv -t dst a b", ["a", "b", "dst/a", "dst/b"]),
    ("mv -- -dash b", ["-dash", "b"]),
    ("cp -r src dst", ["dst"]),
    ("cp -a a b c", ["c/a", "c/b"]),
    ("cp --target-directory=d a", ["d/a"]),
    ("rm -rf -- build", ["build"]),
    ("rmdir empty", ["empty"]),
    ("unlink link", ["link"]),
    ("touch -d yesterday -r ref.txt f", ["f"]),
    ("truncate -s 0 app.log", ["app.log"]),
    ("dd if=/dev/zero of=disk.img bs=1M count=1", ["disk.img"]),
    ("ln -s target linkname", ["linkname"]),
    ("ln -sf ../shared/conf.py", ["conf.py"]),
    ("chmod -R 755 bin", ["bin"]),
    ("chmod -x script.sh", ["script.sh"]),
    ("chmod --reference=ref.txt other.txt", ["other.txt"]),
    ("chown -R user:group data", ["data"]),
    ("install -m 644 built.so /usr/local/lib/x.so", ["/usr/local/lib/x.so"]),
    ("rsync -av --exclude .git src/ backup/", ["backup/"]),
    ("patch -p1 orig.c fix.diff", ["orig.c"]),
    ("patch -o patched.c orig.c fix.diff", ["patched.c"]),
    # git path writes
    ("git checkout -- a.py b.py", ["a.py", "b.py"]),
    ("git checkout HEAD~1 -- a.py", ["a.py"]),
    ("git checkout HEAD~2 a.py b.py", ["a.py", "b.py"]),
    ("git restore a.py", ["a.py"]),
    ("git restore --source=HEAD~1 --staged --worktree c.py", ["c.py"]),
    ("git rm -r old", ["old"]),
    ("git mv a.py b.py", ["a.py", "b.py"]),
    ("git stash push -- a.py", ["a.py"]),
    ("git stash push -m wip src/x.py", ["src/x.py"]),
    ("git -C sub checkout -- f.py", ["sub/f.py"]),
    ("cd sub && git checkout .", ["sub"]),
    ("git clean -fd -- build/", ["build/"]),
    ("git diff > p.diff", ["p.diff"]),
]

READS = [
    "git stash pop",  # brings work back; git refuses rather than overwrite local changes
    "git stash apply stash@{1}",
    "sort -c data.txt",
    "ruff check src",
    "prettier --check src",
    "gofmt -l .",
    "curl -s https://example.invalid/api",
    "cat a.txt",
    "less README.md",
    "grep -rn 'x > y' src",
    "rg -l foo --glob '*.py'",
    "ls -la > /dev/null",
    "find . -name '*.py' -print",
    "git diff HEAD~1",
    "git log --oneline -5",
    "git status --short",
    "git show HEAD:src/a.py",
    "git blame src/a.py",
    "head -n 5 a.txt | tail -1",
    "wc -l *.py",
    "echo 'rm -rf /' ",
    "echo hi >&2",
    "echo hi 2>&1 1>&2",
    "python script.py --out report.txt",
    "node build.js",
    "sed -n '1,5p' a.py",
    "sed 's/a/b/' a.py",
    "perl -ne 'print if /x/' a.txt",
    "[[ a > b ]] && echo ok",
    "(( x > 3 )) && echo big",
    "command -v rm",
    "git stash list",
    "git stash show -p",
    "git switch -c feature",
    "git checkout -b feature",
    "git restore --staged a.py",
    "git rm --cached tracked.py",
    "git clean -n -d",
    "git clean -d",
    "git reset HEAD a.py",
    "git apply fix.patch",
    "rsync -av src/ host:/backup/",
    "rsync -n -av src/ backup/",
    "install -d build/out",
    "mkdir -p new/dir",
    "find . -name '*.tmp' -delete",
    "patch -p1 < fix.diff",
    "cat <<EOF\nrm -rf /\nEOF",
    "# rm -rf everything",
    "",
    "sudo -l",
    "ls | xargs -I{} echo {}",
]

DESTRUCTIVE = [
    ("git reset --hard", ["reset-hard"]),
    ("git reset --hard HEAD~2", ["reset-hard"]),
    ("git reset --hard origin/main && rm x", ["reset-hard"]),
    ("git checkout .", ["checkout-all"]),
    ("git checkout -- .", ["checkout-all"]),
    ("git checkout HEAD -- .", ["checkout-all"]),
    ("git checkout -f", ["checkout-all"]),
    ("git checkout --force", ["checkout-all"]),
    ("git restore .", ["restore-all"]),
    ("git restore :/", ["restore-all"]),
    ("git restore --worktree .", ["restore-all"]),
    ("git clean -f", ["clean"]),
    ("git clean -fd", ["clean"]),
    ("git clean -fdx", ["clean"]),
    ("git clean -xfd", ["clean"]),
    ("git clean --force -d", ["clean"]),
    ("git stash", ["stash"]),
    ("git stash -u", ["stash"]),
    ("git stash push", ["stash"]),
    ("git stash push -m wip", ["stash"]),
    ("git stash save wip", ["stash"]),
    ("git switch main", ["switch-branch"]),
    ("git switch -", ["switch-branch"]),
    ("git checkout -", ["switch-branch"]),
    ("git switch -c feature origin/feature", ["switch-branch"]),
    ("git checkout --detach v1.0", ["switch-branch"]),
    ("git -C /repo -c core.pager=cat reset --hard", ["reset-hard"]),
    ("git --no-pager stash", ["stash"]),
    ("sudo git clean -ffdx", ["clean"]),
    ("bash -c 'git reset --hard'", ["reset-hard"]),
    ("echo $(git stash)", ["stash"]),
    ("pwsh -Command 'git reset --hard'", ["reset-hard"]),
]

OTHER_WRITERS = [
    ("sort -o out.txt in.txt", ["out.txt"]),
    ("sort --output=out.txt in.txt", ["out.txt"]),
    ("curl -sSLo src/app.py https://example.invalid/app.py", ["src/app.py"]),
    ("curl --output src/app.py https://example.invalid/app.py", ["src/app.py"]),
    ("wget -O src/app.py https://example.invalid/app.py", ["src/app.py"]),
    ("gofmt -w main.go util.go", ["main.go", "util.go"]),
    ("black src/app.py", ["src/app.py"]),
    ("isort src/app.py", ["src/app.py"]),
    ("prettier --write web/app.ts", ["web/app.ts"]),
    ("ruff format src/app.py", ["src/app.py"]),
    ("ruff check --fix src/app.py", ["src/app.py"]),
    ("cp /tmp/notes.txt .", ["./notes.txt"]),
    ("mv /tmp/data.csv ..", ["/tmp/data.csv", "../data.csv"]),
]


@pytest.mark.parametrize("command,writes", OTHER_WRITERS, ids=[c for c, _ in OTHER_WRITERS])
def test_more_writers(command, writes):
    assert analyze_bash(command).writes == writes


def test_a_copy_into_an_existing_directory_writes_one_file_in_it():
    dirs = {"src", "sub/src"}
    assert analyze_bash("mv lib/util.py src", is_dir=dirs.__contains__).writes == ["lib/util.py", "src/util.py"]
    assert analyze_bash("cp a.txt b.txt", is_dir=dirs.__contains__).writes == ["b.txt"]
    assert analyze_bash("cp x src", start="sub", is_dir=dirs.__contains__).writes == ["sub/src/x"]


def test_a_start_directory_makes_dot_mean_that_directory():
    assert analyze_bash("git checkout -- .", start="lib").destructive == []
    assert analyze_bash("git checkout -- .", start="lib").writes == ["lib"]
    assert analyze_bash("git checkout -- .").destructive == [("checkout-all", "git checkout -- .")]


MAYBE_BRANCH = [
    ("git checkout main", ["main"]),
    ("git checkout feature/x", ["feature/x"]),
    ("git checkout -q src/a.py", ["src/a.py"]),
    ("cd sub && git checkout f.py", ["sub/f.py"]),
]

POWERSHELL = [
    ("Set-Content -Path a.txt -Value hi", ["a.txt"]),
    ("Set-Content b.txt 'content'", ["b.txt"]),
    ("sc -Value x -Path c.txt", ["c.txt"]),
    ('Add-Content -LiteralPath \'d e.txt\' -Value "a`"b"', ["d e.txt"]),
    ("ac log.txt 'line'", ["log.txt"]),
    ("'x' | Out-File -FilePath out.txt -Append", ["out.txt"]),
    ("Get-Process | Out-File procs.txt", ["procs.txt"]),
    ("New-Item -Path new.txt -ItemType File", ["new.txt"]),
    ("ni -Path dir -Name f.txt", ["dir/f.txt"]),
    ("New-Item -ItemType Directory build", []),
    ("Remove-Item -Recurse -Force e, f", ["e", "f"]),
    ("ri old.txt; del older.txt; rm oldest.txt", ["old.txt", "older.txt", "oldest.txt"]),
    ("Move-Item -Path g -Destination h", ["g", "h"]),
    ("mv i j", ["i", "j"]),
    ("Copy-Item k -Destination l", ["l"]),
    ("copy m n", ["n"]),
    ("cp -Recurse src dst", ["dst"]),
    ("echo x > redirected.txt", ["redirected.txt"]),
    ("Write-Output x 2>&1 >> appended.txt", ["appended.txt"]),
    ("Get-ChildItem > $null", []),
    ("cd sub; Remove-Item m", ["sub/m"]),
    ("Remove-Item x -WhatIf", []),
    ("Get-ChildItem -Recurse | Select-String foo", []),
    ("Get-Content a.txt", []),
    ("git checkout -- src/a.py", ["src/a.py"]),
    ("Remove-Item $(Get-Item x)", []),
]


@pytest.mark.parametrize(("command", "writes"), WRITES, ids=[c for c, _ in WRITES])
def test_writes(command, writes):
    result = analyze_bash(command)
    assert not result.unparsed
    assert result.writes == writes
    assert result.destructive == []


@pytest.mark.parametrize("command", READS)
def test_reads_write_nothing(command):
    result = analyze_bash(command)
    assert result == ShellAnalysis()


@pytest.mark.parametrize(("command", "kinds"), DESTRUCTIVE, ids=[c for c, _ in DESTRUCTIVE])
def test_destructive(command, kinds):
    result = analyze_bash(command)
    assert not result.unparsed
    assert [kind for kind, _ in result.destructive] == kinds


@pytest.mark.parametrize(("command", "maybe"), MAYBE_BRANCH)
def test_maybe_branch_switch(command, maybe):
    result = analyze_bash(command)
    assert result.maybe_branch_switch == maybe
    assert result.writes == [] and result.destructive == []


@pytest.mark.parametrize(("command", "writes"), POWERSHELL, ids=[c for c, _ in POWERSHELL])
def test_powershell(command, writes):
    result = analyze_powershell(command)
    assert not result.unparsed
    assert result.writes == writes


def test_table_sizes():
    assert len(WRITES) + len(READS) + len(DESTRUCTIVE) >= 60
    assert len(WRITES) >= 40 and len(READS) >= 15


def test_destructive_reports_the_command_text():
    result = analyze_bash("cd sub && sudo git reset --hard HEAD~1 ; echo done")
    assert result.destructive == [("reset-hard", "sudo git reset --hard HEAD~1")]
    assert analyze_powershell("git clean -fdx").destructive == [("clean", "git clean -fdx")]


def test_destructive_is_reported_once_with_writes_alongside():
    result = analyze_bash("git checkout -- . src/a.py && echo x > notes.txt")
    assert result.destructive == [("checkout-all", "git checkout -- . src/a.py")]
    assert result.writes == ["src/a.py", "notes.txt"]


def test_dev_targets_are_ignored():
    assert analyze_bash("cmd > /dev/null 2> /dev/stderr &> /dev/tty; cd /dev && echo > null").writes == []


@pytest.mark.parametrize(
    "command",
    [
        "cat 'unbalanced",
        'echo "unbalanced',
        "echo $(unterminated",
        "echo `unterminated",
        "echo ${unterminated",
        "(rm x",
        "echo >",
        "bash -c 'echo \"inner unbalanced'",
    ],
)
def test_unparseable_fails_open(command):
    assert analyze_bash(command) == ShellAnalysis(unparsed=True)


def test_powershell_unparseable_fails_open():
    assert analyze_powershell("Set-Content 'unbalanced") == ShellAnalysis(unparsed=True)
    assert analyze_powershell("<# unterminated comment") == ShellAnalysis(unparsed=True)


def test_unknown_cd_drops_relative_writes_only():
    result = analyze_bash("cd $(git rev-parse --show-toplevel) && rm rel && rm /abs/path")
    assert result.writes == ["/abs/path"]


def test_substituted_paths_are_dropped():
    assert analyze_bash("rm $(cat list.txt) `ls` $((1+2))").writes == []
    assert analyze_bash('rm "$HOME/x" ~/y').writes == ["$HOME/x", "~/y"]


def test_huge_input_is_capped():
    command = "rm a\n" * 30_000 + "rm beyond_the_cap\n"
    result = analyze_bash(command)
    assert not result.unparsed
    assert result.writes == ["a"]


def test_deep_nesting_fails_open():
    assert analyze_bash("echo " + "$(" * 500 + "rm x" + ")" * 500).unparsed
    assert analyze_bash("eval " * 200 + "rm x").unparsed


@pytest.mark.parametrize("junk", [None, 42, b"\xff\xfe\x00rm x", "\x00\x01\x02", "\ud800", "'" * 1001, "\\"])
def test_junk_never_raises(junk):
    result = analyze_bash(junk)
    assert isinstance(result, ShellAnalysis)
    assert isinstance(analyze_powershell(junk), ShellAnalysis)


_SHELLISH = st.text(
    alphabet=st.sampled_from(list(" \t\n;&|()<>'\"`$\\{}#=-a/.*!@:0123456789rmgitcdx,")), max_size=80
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=200), _SHELLISH))
def test_fuzz_analyze_bash_never_raises(command):
    result = analyze_bash(command)
    assert isinstance(result, ShellAnalysis)
    if result.unparsed:
        assert result.writes == [] and result.destructive == [] and result.maybe_branch_switch == []
    assert all(isinstance(w, str) and w and "\x00" not in w for w in result.writes)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), _SHELLISH))
def test_fuzz_analyze_powershell_never_raises(command):
    assert isinstance(analyze_powershell(command), ShellAnalysis)


def test_an_internal_error_fails_open_and_says_where(monkeypatch):
    from agent_sync.shell import commands, powershell

    def broken(an, args, prefix, raw, stdin):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setitem(commands.COMMANDS, "rm", broken)
    result = analyze_bash("echo x > kept.txt && rm a")
    assert result.unparsed and result.writes == [] and result.destructive == []
    assert result.error is not None and "\n" not in result.error
    assert result.error.startswith("RuntimeError: boom second line at shell/")
    assert result.error.rsplit(":", 1)[1].isdigit()
    assert analyze_bash("touch fine").error is None

    monkeypatch.setattr(powershell, "bind", lambda *a: {}["missing"])
    result = analyze_powershell("Set-Content a.txt x")
    assert result.unparsed and result.error.startswith("KeyError: 'missing' at shell/powershell.py:")


def test_limits_and_syntax_errors_are_not_internal_errors():
    assert analyze_bash("eval " * 200 + "rm x").error is None
    assert analyze_bash("cat 'unbalanced").error is None
    assert analyze_powershell("<# unterminated").error is None

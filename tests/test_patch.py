"""Codex `apply_patch` patches: the paths they write, as a tool input and run through the shell."""

from __future__ import annotations

import pytest

from agent_sync.shell import analyze_bash, patch_paths

pytestmark = pytest.mark.one_store  # pure patch parsing: no store opened

PATCH = """*** Begin Patch
*** Update File: src/app.py
@@ def main():
-    old()
+    new()
*** Update File: src/old_name.py
*** Move to: src/new_name.py
@@
 context
-x
+y
*** Add File: docs/new.md
+text
+*** Delete File: not/a/header.txt
*** Delete File: old.txt
*** Update File: src/app.py
@@
-a
+b
*** End Patch
"""
PATHS = ["src/app.py", "src/old_name.py", "src/new_name.py", "docs/new.md", "old.txt"]


def test_every_written_path_in_order_without_duplicates():
    assert patch_paths(PATCH) == PATHS


@pytest.mark.parametrize(
    ("header", "paths"),
    [
        ("*** Update File: a.py\n@@\n-x\n+y", ["a.py"]),
        ("*** Add File: new/b.txt\n+hello", ["new/b.txt"]),
        ("*** Delete File: c.txt", ["c.txt"]),
        ("*** Update File: d.py\n*** Move to: e/d.py\n@@\n-x\n+y", ["d.py", "e/d.py"]),
        ("*** Add File: /abs/path.txt\n+x\n*** Delete File: ../up.txt", ["/abs/path.txt", "../up.txt"]),
        ("*** Add File: with space.txt\n+x", ["with space.txt"]),
    ],
)
def test_each_kind_of_hunk(header, paths):
    assert patch_paths(f"*** Begin Patch\n{header}\n*** End Patch\n") == paths


def test_crlf_and_whitespace_around_header_lines():
    text = "  *** Begin Patch  \r\n\t*** Update File:   a.py  \r\n@@\r\n-x\r\n+y\r\n *** Move to: b.py\r\n*** End Patch\r\n"
    assert patch_paths(text) == ["a.py", "b.py"]


def test_text_around_the_patch_is_ignored():
    text = "Here is the patch:\n*** Add File: before.txt\n" + PATCH + "*** Add File: after.txt\ntrailing words\n"
    assert patch_paths(text) == PATHS


def test_a_truncated_patch_still_reports_its_headers():
    assert patch_paths("*** Begin Patch\n*** Add File: a\n+x\n*** Update File: b\n@@\n-") == ["a", "b"]


@pytest.mark.parametrize(
    "junk",
    ["", "   ", "\n\n", "hello world", "*** Update File: no_begin.py", "*** Begin Patch\n*** End Patch",
     "*** Begin Patch\n*** Add File:\n*** Update File:   \n*** End Patch", "--- a/x\n+++ b/x\n@@ -1 +1 @@",
     None, 42, b"\xff\xfe"],
)
def test_empty_or_garbage_gives_nothing(junk):
    assert patch_paths(junk) == []


def test_bytes_are_decoded():
    assert patch_paths(PATCH.encode()) == PATHS


@pytest.mark.parametrize("name", ["apply_patch", "applypatch", "/usr/local/bin/apply_patch"])
def test_the_heredoc_form(name):
    result = analyze_bash(f"{name} <<'EOF'\n{PATCH}EOF\n")
    assert not result.unparsed and result.error is None
    assert result.writes == PATHS


def test_the_argument_form():
    assert analyze_bash(f'apply_patch "{PATCH}"').writes == PATHS
    assert analyze_bash("apply_patch '*** Begin Patch\n*** Delete File: gone.txt\n*** End Patch'").writes == [
        "gone.txt"]


def test_paths_are_relative_to_the_current_directory():
    result = analyze_bash(f"cd sub && apply_patch <<'EOF'\n{PATCH}EOF\necho done > log.txt")
    assert result.writes == ["sub/" + p for p in PATHS] + ["sub/log.txt"]
    abs_patch = "*** Begin Patch\n*** Add File: /abs/x.txt\n+x\n*** Add File: ../y.txt\n+y\n*** End Patch"
    assert analyze_bash(f"cd sub && apply_patch <<'EOF'\n{abs_patch}\nEOF").writes == ["/abs/x.txt", "y.txt"]
    assert analyze_bash(f"apply_patch <<'EOF'\n{abs_patch}\nEOF", start="lib").writes == ["/abs/x.txt", "y.txt"]


def test_codex_shell_wrappers_and_crlf():
    body = "*** Begin Patch\r\n*** Update File: a.py\r\n@@\r\n-x\r\n+y\r\n*** End Patch\r\n"
    assert analyze_bash(f"bash -lc \"apply_patch <<'EOF'\n{body}EOF\"").writes == ["a.py"]
    assert analyze_bash(f"apply_patch <<EOF\r\n{body}EOF\r\n").writes == ["a.py"]
    assert analyze_bash(f"apply_patch <<< '{body}'").writes == ["a.py"]


def test_apply_patch_without_a_patch_writes_nothing():
    assert analyze_bash("apply_patch").writes == []
    assert analyze_bash("apply_patch < fix.patch").writes == []
    assert analyze_bash("echo '*** Begin Patch\n*** Add File: x\n*** End Patch'").writes == []

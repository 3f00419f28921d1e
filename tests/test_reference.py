"""docs/cli.md is the commands' own --help; it must not drift from the code."""

import pathlib

import pytest

from agent_sync.cli import reference

pytestmark = pytest.mark.one_store  # the generated reference: no store opened

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_the_command_reference_is_current():
    assert DOC.read_text(encoding="utf-8") == reference.render(), (
        "docs/cli.md is stale: python -m agent_sync.cli.reference > docs/cli.md")

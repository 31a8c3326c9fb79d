"""docs/hooks.md is generated from the specs and must match them."""

from pathlib import Path

from unigate.hookdocs import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"


def test_docs_hooks_md_is_up_to_date() -> None:
    assert DOC.read_text() == render(), "run: python -m unigate.hookdocs > docs/hooks.md"

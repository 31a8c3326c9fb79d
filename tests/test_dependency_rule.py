"""The dependency rule of DESIGN.md, enforced by import-linter -- and shown to bite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_plugin_importing_another_plugin_breaks_the_contract(tmp_path: Path) -> None:
    # A copy of the real plugins, with one plugin importing another: the same contracts must fail.
    shadow = tmp_path / "site"
    for package in (
        "unigate_smtp",
        "unigate_imap",
        "unigate_pop",
        "unigate_storage_text",
        "unigate_storage_sliced",
    ):
        source = ROOT / "plugins" / package.removeprefix("unigate_") / "src" / package
        shutil.copytree(source, shadow / package)
    (shadow / "unigate_pop" / "sneaky.py").write_text(
        '"""Breaks the rule."""\nimport unigate_imap  # noqa\n'
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = _lint(tmp_path, extra_path=shadow)
    assert result.returncode != 0
    assert "Plugins are independent of each other BROKEN" in result.stdout
    assert "unigate_pop.sneaky -> unigate_imap" in result.stdout

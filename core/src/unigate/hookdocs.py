"""Generate ``docs/hooks.md`` from the hook specifications' own docstrings.

The specs are the documentation (pytest's and datasette's lesson: a separate text
drifts). Run ``python -m unigate.hookdocs > docs/hooks.md``; a test fails when the
committed file differs from what the specs say.
"""

from __future__ import annotations

import inspect
import sys

import unigate_hookspecs


def _hooks(module: object) -> list[tuple[str, object]]:
    return [
        (name, fn)
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if name.startswith("unigate_") and fn.__module__ == module.__name__  # type: ignore[attr-defined]
    ]


def render() -> str:
    """The whole reference as Markdown."""
    lines = [
        "# Hook reference",
        "",
        "Generated from the docstrings of `unigate_hookspecs` by `python -m unigate.hookdocs`;",
        "do not edit by hand. The contract version is "
        f"`unigate-hookspecs {unigate_hookspecs.__version__}`.",
        "",
        "An implementation may accept any subset of a hook's parameters (they are passed by",
        "keyword). Async implementations are awaited by the kernel's own caller.",
        "",
    ]
    for family in unigate_hookspecs.FAMILIES:
        short = family.__name__.rsplit(".", 1)[1]
        lines += [f"## Family `{short}`", "", inspect.cleandoc(family.__doc__ or ""), ""]
        for name, fn in _hooks(family):
            options = getattr(fn, "unigate_spec", {}) or {}
            flags = [flag for flag in ("firstresult", "historic") if options.get(flag)]
            signature = str(inspect.signature(fn))
            lines += [f"### `{name}{signature}`", ""]
            if flags:
                lines += ["*" + ", ".join(flags) + "*", ""]
            lines += [inspect.cleandoc(fn.__doc__ or "(undocumented)"), ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render())

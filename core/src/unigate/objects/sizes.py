"""Size and count settings as the manual writes them: ``10M``, ``30K``, ``1G``, ``unlimited``."""

from __future__ import annotations

_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(value: object) -> int | None:
    """Bytes (or a count) from ``#5``, ``"5"``, ``"10M"``; None for unlimited / unset / ``-1``."""
    if value is None:
        return None
    if isinstance(value, int):
        return None if value < 0 else value
    text = str(value).strip().upper()
    if text in ("", "UNLIMITED", "-1", "DEFAULT"):
        return None
    factor = _UNITS.get(text[-1], 1)
    number = text[:-1] if text[-1] in _UNITS else text
    try:
        return int(float(number) * factor)
    except ValueError:
        raise ValueError(f"{value!r} is not a size (use 1024, 30K, 10M, 1G or unlimited)") from None

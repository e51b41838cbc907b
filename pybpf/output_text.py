"""Small text layouts shared by the CLI commands."""

from __future__ import annotations


def yes_no_table(items: dict[str, bool | None], columns: int = 3) -> str:
    """Names with yes/no in aligned columns ("?" where the probe could not tell)."""
    word = {True: "yes", False: "no", None: "?"}
    cells = [f"{name:<24} {word[ok]:<4}" for name, ok in items.items()]
    rows = [cells[i:i + columns] for i in range(0, len(cells), columns)]
    return "\n".join("  " + "  ".join(r).rstrip() for r in rows)

"""Every pattern the OpenAPI document publishes means the same to a client's ECMA-262 regex as to the service."""

from __future__ import annotations

import re

# Shorthand classes and `$`-before-newline differ between ECMA-262 (what JSON Schema clients use), Rust's regex (what
# Pydantic validates with) and Python's re: `\s` holds U+0085 only for the last two, `\d` is ASCII only for ECMA.
ENGINE_DEPENDENT = re.compile(r"(?<!\\)(?:\\\\)*\\[sSdDwWbB]")


def _patterns(node, where: str = "") -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                found.append((where, value))
            else:
                found += _patterns(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _patterns(value, f"{where}/{i}")
    return found


def test_no_published_pattern_uses_an_engine_dependent_class(app) -> None:  # type: ignore[no-untyped-def]
    patterns = _patterns(app.openapi())
    assert len(patterns) > 10  # the walk really reaches the document's patterns
    offending = [(where, p) for where, p in patterns if ENGINE_DEPENDENT.search(p)]
    assert not offending, offending


def test_the_check_catches_the_classes_that_once_disagreed() -> None:
    assert ENGINE_DEPENDENT.search(r"^https?://[^\s\x00-\x1f\x7f]{4,}$")
    assert ENGINE_DEPENDENT.search(r"^\d{4}$")
    assert not ENGINE_DEPENDENT.search(r"^[0-9]{4}\\d$")  # an escaped backslash followed by d is a literal

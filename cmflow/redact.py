"""Keep secrets out of everything cmflow prints or writes."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"


class Redactor:
    """Replaces every known secret (and its URL-encoded and base64 forms) with ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for s in secrets:
            if len(s) < 4:
                continue
            forms.update(
                {s, quote(s, safe=""), quote_plus(s), base64.b64encode(s.encode()).decode()}
            )
            # A webhook URL's last path segment is its token: mask it on its own too.
            if "://" in s:
                tail = s.rstrip("/").rsplit("/", 1)[-1]
                if len(tail) >= 8:
                    forms.add(tail)
        self.forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        for form in self.forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def text(self, text: str) -> str:
        for form in self.forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def github_masks(self) -> list[str]:
        """`::add-mask::` lines, one per secret form, printed before anything else."""
        return [f"::add-mask::{f}" for f in self.forms if "\n" not in f]

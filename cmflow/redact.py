"""Keep secrets out of everything cmflow prints or writes."""

from __future__ import annotations

import base64
import re
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
        # Case-insensitive: percent-encodings may use either case of hex digits.
        self._pattern = (
            re.compile("|".join(re.escape(f) for f in self.forms), re.IGNORECASE)
            if self.forms
            else None
        )

    def __call__(self, text: str | None) -> str | None:
        return self.text(text) if text else text

    def text(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern is not None else text

    def github_masks(self) -> list[str]:
        """`::add-mask::` lines, one per secret form, printed before anything else."""
        return [f"::add-mask::{f}" for f in self.forms if "\n" not in f]

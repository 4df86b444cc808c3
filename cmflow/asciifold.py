"""Text folded to ASCII for the names cmflow makes from a brand's name (its folder, its
secrets' prefix): accents dropped, and the letters Unicode does not decompose spelt out
(`L'Œuf & Cie` -> `L'OEuf & Cie`, `Straße` -> `Strasse`), not lost."""

from __future__ import annotations

import unicodedata

_SPELT = str.maketrans(
    {
        "Œ": "OE",
        "œ": "oe",
        "Æ": "AE",
        "æ": "ae",
        "ß": "ss",
        "ẞ": "SS",
        "Ø": "O",
        "ø": "o",
        "Đ": "D",
        "đ": "d",
        "Ł": "L",
        "ł": "l",
        "Þ": "TH",
        "þ": "th",
        "Ð": "D",
        "ð": "d",
        "ı": "i",
    }
)


def fold(text: str) -> str:
    """`text` in ASCII: each letter without its accents, the few that have none to drop
    spelt in ASCII letters, anything else left out."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPELT))
    return decomposed.encode("ascii", "ignore").decode()

"""Several brands in one repository: `brands/<name>/` each holds a complete content
repository (channels.yaml, content/, media/, data/), published and measured apart."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

BRANDS_DIR = "brands"


@dataclass(frozen=True)
class Brand:
    name: str
    root: str  # relative to the repository root, POSIX
    secrets_prefix: str  # repository secrets of this brand are named PREFIX_<VARIABLE>

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "root": self.root, "secrets_prefix": self.secrets_prefix}


def secrets_prefix(name: str) -> str:
    """`Boulangerie Émile` -> `BOULANGERIE_EMILE`: the names GitHub accepts for secrets."""
    # Accents dropped, other letters left out, as ever: a folder named by hand (`straße`)
    # keeps the prefix its secrets were created under. (`cmflow init` names folders in
    # ASCII already, spelling those letters out: `scaffold.slug`.)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    prefix = re.sub(r"[^A-Za-z0-9]+", "_", ascii_name).strip("_").upper()
    if not prefix or prefix[0].isdigit():
        prefix = f"BRAND_{prefix}"
    return prefix


def discover(top: Path) -> list[Brand]:
    """Every `brands/<name>/channels.yaml` under `top`, sorted by name (symlinks ignored)."""
    folder = top / BRANDS_DIR
    if not folder.is_dir() or folder.is_symlink():
        return []
    out: list[Brand] = []
    for child in sorted(folder.iterdir(), key=lambda p: p.name):
        if child.is_dir() and not child.is_symlink() and (child / "channels.yaml").is_file():
            out.append(Brand(child.name, f"{BRANDS_DIR}/{child.name}", secrets_prefix(child.name)))
    prefixes = [b.secrets_prefix for b in out]
    dupes = {p for p in prefixes if prefixes.count(p) > 1}
    if dupes:
        from cmflow.errors import CmflowError
        from cmflow.i18n import _

        raise CmflowError(
            _("brands {names} share the secrets prefix {prefixes}: rename one folder").format(
                names=", ".join(b.name for b in out if b.secrets_prefix in dupes),
                prefixes=", ".join(sorted(dupes)),
            )
        )
    return out

"""`cmflow init`: lay out a content repository that works as soon as it is pushed.

The files come from `cmflow/templates/init/` (package data, so an installed wheel carries
them). Placeholders are `@@NAME@@` (the workflows are full of `${{ }}`, so no `$` syntax).
Example posts are dated from the injected clock: the first one is due at once, so the first
`cmflow publish` of a fresh repository puts it on the site.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from zoneinfo import ZoneInfo

from cmflow.errors import CmflowError
from cmflow.i18n import _

DEFAULT_ACTION = "cmflow/cmflow@v1"
_TEXT_SUFFIXES = {".md", ".yaml", ".yml", ""}
_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")
_ENV_NAME = re.compile(r"^\s*#?\s*\w+_env:\s*([A-Z_][A-Z0-9_]*)", re.M)

# Example posts: template name -> (days after today, time of day or None for "now")
_POSTS: Mapping[str, tuple[int, str | None]] = {
    "bienvenue": (0, None),
    "fil": (2, "09:00"),
    "image": (4, "12:30"),
}


@dataclass(frozen=True)
class Options:
    brand: str
    timezone: str = "Europe/Paris"
    language: str = "fr"
    site_url: str = "https://example.org/actus"
    action: str = DEFAULT_ACTION
    owner: str = "marque/equipe-editoriale"
    force: bool = False
    brands: tuple[str, ...] = ()  # several: the agency layout, brands/<slug>/ each
    brand_only: bool = False  # only a brand's own files (adding a brand to brands/)


BRAND_FILES = ("channels.yaml", "content/", "media/")
GA4_TOKEN = "CMFLOW_GA4_TOKEN"
AGENCY_README = """

## Agence : plusieurs marques / Agency: several brands

Chaque marque est un dépôt de contenus complet dans `brands/<marque>/` (son `channels.yaml`,
`content/`, `media/`, `data/`). Les workflows tournent une fois par marque ; l'échec d'une
marque ne bloque jamais les autres. `cmflow brands` liste les marques et le préfixe de leurs
secrets : le secret `CMFLOW_MASTODON_TOKEN` de la marque `boulangerie` s'appelle
`BOULANGERIE_CMFLOW_MASTODON_TOKEN` dans le dépôt, et seul le job de cette marque le reçoit.
Ajouter une marque : `cmflow init brands/<marque> --brand "Nom"`.

Each brand is a complete content repository in `brands/<brand>/`. Workflows run once per
brand; one brand's failure never blocks another. `cmflow brands` lists the brands and their
secrets prefix: brand `boulangerie`'s `CMFLOW_MASTODON_TOKEN` is the repository secret
`BOULANGERIE_CMFLOW_MASTODON_TOKEN`, passed to that brand's job only.
Add a brand: `cmflow init brands/<brand> --brand "Name"`.
"""


def slug(name: str) -> str:
    """A folder name for a brand: `Boulangerie Émile` -> `boulangerie-emile`."""
    from cmflow.asciifold import fold

    ascii_name = fold(name)
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "marque"


def _templates(kind: str = "init") -> Traversable:
    return resources.files("cmflow").joinpath("templates", kind)


def _walk(node: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            yield from _walk(child, rel + "/")
        else:
            yield rel, child


def secret_names(channels_yaml: str) -> list[str]:
    """Every environment variable a channels.yaml names, commented examples included."""
    return sorted(set(_ENV_NAME.findall(channels_yaml)))


def _secrets_env(names: list[str], *, agency: bool = False) -> str:
    if agency:
        # Each brand's job gets its own secrets only: PREFIX_NAME mapped onto NAME.
        return "\n".join(
            f"          {n}: ${{{{ secrets[format('{{0}}_{n}', matrix.brand.secrets_prefix)] }}}}"
            for n in names
        )
    return "\n".join(f"          {n}: ${{{{ secrets.{n} }}}}" for n in names)


def _values(opts: Options) -> dict[str, str]:
    owner, _, _ = opts.action.partition("@")
    return {
        "BRAND": opts.brand,
        "TIMEZONE": opts.timezone,
        "LANGUAGE": opts.language,
        "SITE_URL": opts.site_url.rstrip("/"),
        "ACTION": opts.action,
        "ACTION_REPO": owner,
        "ACTION_VERSION": opts.action.partition("@")[2] or "main",
        "OWNER": opts.owner.lstrip("@"),
    }


def _post_dates(now: datetime, tz: ZoneInfo) -> dict[str, datetime]:
    local = now.astimezone(tz).replace(second=0, microsecond=0)
    out: dict[str, datetime] = {}
    for name, (days, hhmm) in _POSTS.items():
        when = local
        if hhmm is not None:
            h, m = (int(x) for x in hhmm.split(":"))
            when = (local + timedelta(days=days)).replace(hour=h, minute=m)
        out[name] = when
    return out


def plan_files(opts: Options, now: datetime) -> dict[str, bytes]:
    """Relative path -> bytes of every file `init` writes (pure: nothing touches the disk)."""
    try:
        tz = ZoneInfo(opts.timezone)
    except (KeyError, ValueError) as exc:
        raise CmflowError(
            _("unknown time zone {zone} (e.g. Europe/Paris)").format(zone=repr(opts.timezone))
        ) from exc
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", opts.site_url):
        raise CmflowError(
            _("--site-url must be an http(s) URL, not {value}").format(value=repr(opts.site_url))
        )
    if opts.brand_only:
        return _render(_templates(), opts, now, tz, keep=BRAND_FILES)
    if not opts.brands:
        return _render(_templates(), opts, now, tz)
    slugs = [slug(b) for b in opts.brands]
    if len(set(slugs)) != len(slugs):
        raise CmflowError(
            _("two brands would share a folder: {folders}").format(folders=", ".join(slugs))
        )
    agency = Options(**{**vars(opts), "brand": " / ".join(opts.brands), "brands": ()})
    files = {
        rel: data
        for rel, data in _render(_templates(), agency, now, tz, agency=True).items()
        if not rel.startswith(BRAND_FILES)
    }
    files["README.md"] += AGENCY_README.encode("utf-8")
    for name, folder in zip(opts.brands, slugs, strict=True):
        brand = Options(**{**vars(opts), "brand": name, "brands": ()})
        for rel, data in _render(_templates(), brand, now, tz, keep=BRAND_FILES).items():
            files[f"brands/{folder}/{rel}"] = data
    return files


def _render(
    templates: Traversable,
    opts: Options,
    now: datetime,
    tz: ZoneInfo,
    *,
    keep: tuple[str, ...] | None = None,
    agency: bool = False,
) -> dict[str, bytes]:
    values = _values(opts)
    dates = _post_dates(now, tz)
    channels_yaml = templates.joinpath("channels.yaml").read_text(encoding="utf-8")
    names = secret_names(channels_yaml)
    social = [n for n in names if n != GA4_TOKEN]
    # Publishing needs the networks' credentials only; the metrics job of a single brand gets
    # the Google Analytics token from Google's own auth step, an agency's from its secrets.
    values["SECRETS_ENV"] = _secrets_env(social, agency=agency)
    values["SECRETS_ENV_METRICS"] = _secrets_env(social, agency=agency)
    values["SECRETS_ENV_ALL"] = _secrets_env(names, agency=agency)
    for stem, when in dates.items():
        values[f"DATE_{stem.upper()}"] = when.strftime("%Y-%m-%d %H:%M")
    nodes = dict(_walk(templates))
    if agency:
        nodes.update(_walk(_templates("agency")))
    files: dict[str, bytes] = {}
    for rel, node in sorted(nodes.items()):
        if keep is not None and not rel.startswith(keep):
            continue
        data = node.read_bytes()
        target = rel
        if rel.startswith("content/"):
            stem = rel.removeprefix("content/").removesuffix(".md")
            when = dates[stem]
            target = f"content/{when:%Y}/{when:%m}/{when:%Y-%m-%d}-{stem}.md"
        if Path(rel).suffix in _TEXT_SUFFIXES:
            text = data.decode("utf-8")
            # YAML double-quoted strings: the brand name may hold quotes or backslashes.
            text = _PLACEHOLDER.sub(lambda m: _fill(m.group(1), values, m.string, m.start()), text)
            data = text.encode("utf-8")
        files[target] = data
    return files


def _fill(name: str, values: Mapping[str, str], text: str, at: int) -> str:
    value = values.get(name)
    if value is None:
        raise KeyError(f"template placeholder @@{name}@@ has no value")
    line_start = text.rfind("\n", 0, at) + 1
    if text.count('"', line_start, at) % 2:  # inside a double-quoted YAML string
        return value.replace("\\", "\\\\").replace('"', '\\"')
    return value


def init(target: Path, opts: Options, now: datetime) -> list[str]:
    """Write the scaffold into `target` (created if needed). Refuses to overwrite any existing
    file unless `opts.force`; checks every file before writing the first one."""
    files = plan_files(opts, now)
    if target.exists() and not target.is_dir():
        raise CmflowError(_("{path} exists and is not a folder").format(path=target))
    existing = sorted(rel for rel in files if (target / rel).exists())
    if existing and not opts.force:
        listed = "\n  ".join(existing)
        raise CmflowError(
            _(
                "{folder} already has files cmflow init would write:\n  {files}\n"
                "Nothing was written. Move them away, or pass --force to overwrite them."
            ).format(folder=target, files=listed)
        )
    for rel in files:
        dest = target / rel
        if dest.is_symlink() or any(p.is_symlink() for p in _parents(target, dest)):
            raise CmflowError(
                _("{path} is (inside) a symbolic link: refusing to write through it").format(
                    path=dest
                )
            )
    for rel, data in files.items():
        _write(target / rel, data)
    return sorted(files)


def _parents(top: Path, path: Path) -> Iterator[Path]:
    p = path.parent
    while p != top and top in p.parents:
        yield p
        p = p.parent


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".cmflow-init-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

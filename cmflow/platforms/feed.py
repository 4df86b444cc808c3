"""The built-in `feed` platform: an Atom feed (RFC 4287) and a static HTML site, no credentials.

Channel settings (channels.yaml):

- `output_dir`: where the site is written, relative to the repository root (default `public`).
- `site_url`: the public address of that folder (e.g. `https://example.fr/actus`). With it,
  ids and feed links are absolute (`<site_url>/<slug>/`). Without it, links are relative and
  ids are tag URIs (RFC 4151) `tag:cmflow.invalid,2026:<channel>/<slug>`; setting `site_url`
  later changes every id, so feed readers will show the entries again.
- `title`: the feed and site title (default: channels.yaml `brand`, else the channel name);
  also the feed author's name.
- `language`: the feed's `xml:lang` and the site's `<html lang>`; dates are written in French
  ("24 novembre 2026") when it is French, as ISO dates otherwise.

State lives in the output itself, which the publish job commits together with the record:
`<output_dir>/.cmflow-feed.json` maps each post id to its entry. Publishing a post adds or
replaces its entry, copies its media to `<output_dir>/media/`, then regenerates every page,
`index.html` and `feed.xml` from the manifest. The manifest is written last: an entry present
in it proves every other file of that publication was written (`reconcile` relies on this).

No "now" anywhere: an entry's `published` and `updated` dates are the post's scheduled date,
which the publisher passes in the claim handles as `handles["date"]` (an ISO 8601 string);
`handles["updated"]` may override `updated`. Without a date, 1970-01-01T00:00:00Z is used.
Sorting is by date, then post id. So publishing the same post twice leaves every file
byte-identical, and files whose bytes do not change are not rewritten at all.

Every write is atomic (a temporary file in the same folder, then a rename), so a crash
never leaves a half-written feed behind, and goes through `safefs.write_atomic`: a symbolic
link anywhere below the repository on the way to a file (`public`, `public/media`, a page,
`feed.xml`) fails the channel instead of being written through. Media are read with
`media.load`, which checks them again when they are copied (regular files inside the
repository, outside `.git`, of a type recognised from their bytes); SVG is refused because
the site serves it as is and a browser runs the scripts an SVG holds.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cmflow import media as media_files
from cmflow import safefs
from cmflow.i18n import _
from cmflow.model import Media, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.spec import LANGUAGE, Capability, ConnKey, PlatformSpec, caps

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

MANIFEST_NAME = ".cmflow-feed.json"
MANIFEST_FORMAT = 1
MEDIA_DIR = "media"
FEED_NAME = "feed.xml"
INDEX_NAME = "index.html"
DEFAULT_OUTPUT_DIR = "public"
EPOCH = "1970-01-01T00:00:00Z"
FEED_LIMIT = 50  # newest entries in feed.xml (index.html lists them all)
TITLE_MAX = 120  # characters of the first line used as a title when the post has none
SUMMARY_MAX = 300
# RFC 4151 tag URIs need an authority; `.invalid` is reserved (RFC 2606), so nobody owns it
# and these ids cannot clash with a real site's. Set `site_url` for globally unique ids.
TAG_AUTHORITY = "cmflow.invalid,2026"

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
VIDEO_SUFFIXES = (".mp4", ".m4v", ".webm", ".mov", ".ogv")
RESERVED_SLUGS = frozenset({MEDIA_DIR})

# XML 1.0 §2.2 forbids these characters even escaped: drop them from any text we emit.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SLUG_JUNK = re.compile(r"[^a-z0-9_-]+")
_SAFE_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_FRENCH_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)

_CSS = (
    "body{margin:0 auto;max-width:42rem;padding:1rem 1.25rem;"
    "font:1.05rem/1.6 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:#1f2328;background:#fff}"
    "a{color:#0b57d0}h1,h2{line-height:1.25}"
    "header{border-bottom:1px solid #d0d7de;margin-bottom:1.5rem;padding-bottom:.5rem}"
    "header a{font-weight:600;text-decoration:none}"
    "article{margin-bottom:2rem}time{color:#59636e;font-size:.95em}"
    "img,video{max-width:100%;height:auto}figure{margin:1.5rem 0}"
    ".tags{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.5rem}"
    ".tags li{background:#eef1f4;border-radius:1rem;padding:0 .6rem;font-size:.9em}"
    "@media (prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}"
    "a{color:#79b8ff}time{color:#9198a1}.tags li{background:#21262d}}"
)


SPEC = PlatformSpec(
    name="feed",
    label="Atom feed + site",
    counter="chars",
    # No SVG: the site serves media as is, and an SVG opened in a browser runs its scripts.
    defaults={
        "media_types": [
            "image/jpeg",
            "image/png",
            "image/gif",
            "image/webp",
            "image/avif",
            "video/mp4",
        ]
    },
    keys=(
        ConnKey("output_dir", "where the feed and pages are written", folder=True),
        ConnKey("site_url", "public URL of output_dir", url=True),
        ConnKey("title", "feed or site title"),
        LANGUAGE,
    ),
    capabilities=caps(
        Capability.TITLES,
        Capability.HTML,
        Capability.ALT_TEXT,
        Capability.WRITES_FILES,
        Capability.RECONCILES,
        Capability.PAGES,
        Capability.EDITS,  # cmflow rewrites its own pages (`Adapter.edit`)
    ),
    output_key="output_dir",
    source="RFC 4287",
)


class FeedError(Exception):
    """A problem that makes this publication impossible (reported as FAILED, in plain words)."""


@dataclass(frozen=True)
class _Media:
    path: str  # relative to output_dir, posix ("media/x.jpg")
    alt: str | None = None


@dataclass
class _Entry:
    """One post in the manifest (and in the feed, the index and its own page)."""

    post_id: str
    id: str
    title: str
    summary: str
    published: str  # RFC 3339, the post's scheduled date with its own offset
    updated: str
    html: str
    slug: str
    tags: list[str] = field(default_factory=list)
    media: list[_Media] = field(default_factory=list)
    language: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "summary": self.summary,
            "published": self.published,
            "updated": self.updated,
            "html": self.html,
            "slug": self.slug,
            "tags": list(self.tags),
            "media": [{"path": m.path, "alt": m.alt} for m in self.media],
            "language": self.language,
        }

    @classmethod
    def from_json(cls, post_id: str, raw: Any) -> _Entry:
        if not isinstance(raw, dict):
            raise ValueError(_("entry {post_id!r} is not an object").format(post_id=post_id))

        def text(key: str) -> str:
            value = raw.get(key)
            if not isinstance(value, str):
                raise ValueError(
                    _("entry {post_id!r} has no text {key!r}").format(post_id=post_id, key=key)
                )
            return value

        media: list[_Media] = []
        for item in raw.get("media") or []:
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                raise ValueError(
                    _("entry {post_id!r} has a media without a path").format(post_id=post_id)
                )
            alt = item.get("alt")
            media.append(_Media(item["path"], alt if isinstance(alt, str) else None))
        language = raw.get("language")
        slug = text("slug")
        if not _SAFE_SLUG.match(slug):
            raise ValueError(
                _("entry {post_id!r} has an unsafe slug {slug!r}").format(
                    post_id=post_id, slug=slug
                )
            )
        for m in media:
            _check_output_relative(m.path)
        for key in ("published", "updated"):
            _parse_date(text(key))
        return cls(
            post_id=post_id,
            id=text("id"),
            title=text("title"),
            summary=text("summary"),
            published=text("published"),
            updated=text("updated"),
            html=text("html"),
            slug=slug,
            tags=[str(t) for t in raw.get("tags") or []],
            media=media,
            language=language if isinstance(language, str) else None,
        )

    @property
    def published_at(self) -> datetime:
        return _parse_date(self.published)

    @property
    def updated_at(self) -> datetime:
        return _parse_date(self.updated)


def slug_for(post_id: str) -> str:
    """A folder name safe on every file system and in URLs, stable for a post id.

    Lower-case ASCII letters, digits, `-` and `_`. When that changed anything (accents,
    spaces, capitals) or gives a reserved name, a short hash of the id keeps slugs of
    different ids apart ("Été 2026" -> "ete-2026-<hash>", never the same as "ete-2026").
    """
    ascii_id = unicodedata.normalize("NFKD", post_id).encode("ascii", "ignore").decode()
    slug = _SLUG_JUNK.sub("-", ascii_id.lower()).strip("-_")
    if slug != post_id or slug in RESERVED_SLUGS:
        digest = hashlib.sha256(post_id.encode("utf-8")).hexdigest()[:8]
        slug = f"{slug or 'post'}-{digest}"
    return slug


def page_url(settings: Mapping[str, Any], post_id: str) -> str | None:
    """The public URL of a post's page (PAGES), when the channel has a `site_url`."""
    site_url = settings.get("site_url")
    return f"{str(site_url).rstrip('/')}/{slug_for(post_id)}/" if site_url else None


class Adapter:
    """Writes the channel's site into `output_dir`; see the module docstring."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        channel = ctx.channel
        raw_dir = channel.setting("output_dir") or DEFAULT_OUTPUT_DIR
        self.output_dir: Path = ctx.root / str(raw_dir)
        site_url = channel.setting("site_url")
        self.site_url: str | None = str(site_url).rstrip("/") if site_url else None
        # The site's heading, <title> and the feed's author: the channel's `title`, else the
        # brand's name (`brand:` in channels.yaml); the channel's own name ("site") is a
        # last resort nobody wants to show readers.
        title = channel.setting("title") or channel.brand
        self.title: str = _xml_text(str(title)) if title else channel.name
        language = channel.setting("language")
        self.language: str | None = str(language) if language else None
        # Every file a publish of this run produced (rewritten or found identical), in order,
        # without duplicates: the publisher commits them with the record.
        self.written: list[Path] = []

    # -- the adapter contract --------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        """The page's folder name. It comes from the post id, not from `key`, so that the
        page keeps its address when the post is published again (new generation)."""
        return {"slug": slug_for(rendered.post_id)}

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        if progress.done:  # the single part is already recorded
            return Result(Outcome.PUBLISHED, parts=list(progress.done))
        try:
            entry = self._entry(rendered, progress.handles)
            manifest = self._load_manifest()
        except FeedError as exc:
            return Result(Outcome.FAILED, reason=str(exc))
        progress.part_started(0)
        try:
            media = self._copy_media(rendered)
            entry.media = media
            manifest[rendered.post_id] = entry
            self._write_site(manifest)
        except FeedError as exc:
            return Result(Outcome.FAILED, reason=str(exc))
        except OSError as exc:
            return Result(Outcome.FAILED, reason=self._os_reason(exc))
        result = self._part_result(entry)
        progress.part_done(0, result)
        return Result(Outcome.PUBLISHED, parts=[result])

    def edit(self, rendered: Rendered, progress: Progress) -> Result:
        """Re-render an edited post: its page, the index and the feed. Its `published` date
        stays; `updated` becomes the edit's time (`handles["updated"]`), so feed readers
        show the entry as changed (RFC 4287 §4.2.15)."""
        try:
            entry = self._entry(rendered, progress.handles)
            manifest = self._load_manifest()
            entry.media = self._copy_media(rendered)
            manifest[rendered.post_id] = entry
            self._write_site(manifest)
        except FeedError as exc:
            return Result(Outcome.FAILED, parts=list(progress.done), reason=str(exc))
        except OSError as exc:
            return Result(Outcome.FAILED, parts=list(progress.done), reason=self._os_reason(exc))
        return Result(Outcome.PUBLISHED, parts=[self._part_result(entry)])

    def edited(self, rendered: Rendered, progress: Progress) -> Result:
        """PUBLISHED when the manifest (written last) already holds the edited entry."""
        try:
            manifest = self._load_manifest()
            wanted = self._entry(rendered, progress.handles)
        except FeedError as exc:
            return Result(Outcome.UNKNOWN, reason=str(exc))
        found = manifest.get(rendered.post_id)
        if found is not None and (found.html, found.updated) == (wanted.html, wanted.updated):
            return Result(Outcome.PUBLISHED, parts=[self._part_result(found)])
        return Result(Outcome.ABSENT)

    def restore(self, rendered: Rendered, handles: Mapping[str, Any]) -> None:
        """Put a published post back after the site files were replaced by another run's
        version (a concurrent run pushed first): the manifest on disk is theirs, ours is
        added to it and the site rewritten."""
        entry = self._entry(rendered, handles)
        manifest = self._load_manifest()
        entry.media = self._copy_media(rendered)
        manifest[rendered.post_id] = entry
        self._write_site(manifest)

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        """PUBLISHED when the manifest holds this post with the id this channel gives it (the
        manifest is written last, so its entry proves the page and feed were written too),
        ABSENT when it does not, UNKNOWN when the manifest cannot be read."""
        if progress.done:
            return Result(Outcome.PUBLISHED, parts=list(progress.done))
        try:
            manifest = self._load_manifest()
        except FeedError as exc:
            return Result(Outcome.UNKNOWN, reason=str(exc))
        slug = self._slug(rendered, progress.handles)
        entry = manifest.get(rendered.post_id)
        if entry is not None and entry.id == self._entry_id(slug):
            return Result(Outcome.PUBLISHED, parts=[self._part_result(entry)])
        return Result(Outcome.ABSENT)

    # -- building the entry ----------------------------------------------------------------

    def _slug(self, rendered: Rendered, handles: Mapping[str, Any]) -> str:
        slug = handles.get("slug")
        if isinstance(slug, str) and _SAFE_SLUG.match(slug) and slug not in RESERVED_SLUGS:
            return slug
        return slug_for(rendered.post_id)

    def _entry_id(self, slug: str) -> str:
        if self.site_url:
            return f"{self.site_url}/{slug}/"
        return f"{self._feed_id()}/{slug}"

    def _feed_id(self) -> str:
        if self.site_url:
            return f"{self.site_url}/"
        return f"tag:{TAG_AUTHORITY}:{quote(self.ctx.channel.name, safe='')}"

    def _entry(self, rendered: Rendered, handles: Mapping[str, Any]) -> _Entry:
        slug = self._slug(rendered, handles)
        published = _date_handle(handles.get("date"), "date") or EPOCH
        updated = _date_handle(handles.get("updated"), "updated") or published
        text = _xml_text("\n\n".join(p.text for p in rendered.parts if p.text))
        title = _xml_text(rendered.title).strip() if rendered.title else ""
        if not title:
            title = _first_line(text) or rendered.post_id
        body_html = rendered.html if rendered.html is not None else _plain_html(text)
        return _Entry(
            post_id=rendered.post_id,
            id=self._entry_id(slug),
            title=title,
            summary=_summary(text),
            published=published,
            updated=updated,
            html=_xml_text(body_html),
            slug=slug,
            tags=_unique(_xml_text(t) for t in rendered.tags if t.strip()),
            language=rendered.language or self.language,
        )

    def _part_result(self, entry: _Entry) -> PartResult:
        return PartResult(id=entry.id, url=self._page_url(entry.slug), extra={"slug": entry.slug})

    def _page_url(self, slug: str) -> str:
        """The page's public URL, or without `site_url` its path from the repository root."""
        if self.site_url:
            return f"{self.site_url}/{slug}/"
        page = self.output_dir / slug / INDEX_NAME
        try:
            return page.relative_to(self.ctx.root).as_posix()
        except ValueError:
            return page.as_posix()

    # -- files ------------------------------------------------------------------------------

    def _load_manifest(self) -> dict[str, _Entry]:
        path = self.output_dir / MANIFEST_NAME
        try:
            # None also when output_dir is a file: writing will fail with a clear reason.
            raw = safefs.read_file(self.ctx.root, self._rel(path))
        except safefs.UnsafePath as exc:
            raise FeedError(self._unsafe_reason(exc)) from None
        except OSError as exc:
            raise FeedError(self._os_reason(exc)) from None
        if raw is None:
            return {}
        shown = self._shown(path)
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
                raise ValueError(_("no `entries` object"))
            if data.get("format", MANIFEST_FORMAT) != MANIFEST_FORMAT:
                raise ValueError(_("unknown format {format!r}").format(format=data.get("format")))
            return {str(pid): _Entry.from_json(str(pid), e) for pid, e in data["entries"].items()}
        except (UnicodeDecodeError, ValueError) as exc:
            # Never overwrite it: it is the only list of what this site already published.
            raise FeedError(
                _(
                    "{shown} is damaged ({exc}): restore it from git history (git checkout -- "
                    "{shown}) before publishing to this channel"
                ).format(shown=shown, exc=exc)
            ) from None

    def _copy_media(self, rendered: Rendered) -> list[_Media]:
        """Copy the post's media to `<output_dir>/media/`, keeping their folders below the
        repository's `media/` ("media/a/b.jpg" -> "media/a/b.jpg"); bytes are only written
        when they differ from what is already there."""
        copied: list[_Media] = []
        seen: set[str] = set()
        for media in _all_media(rendered):
            rel = _media_target(media.path)
            if rel not in seen:
                seen.add(rel)
                self._write(self.output_dir / rel, _site_media(self.ctx.root, media.path))
            alt = _xml_text(media.alt) if media.alt is not None else None
            copied.append(_Media(rel, alt))
        return copied

    def _write_site(self, manifest: Mapping[str, _Entry]) -> None:
        entries = sorted(manifest.values(), key=lambda e: (e.published_at, e.post_id), reverse=True)
        for entry in entries:
            page = self._page(entry)
            self._write(self.output_dir / entry.slug / INDEX_NAME, page.encode("utf-8"))
        self._write(self.output_dir / INDEX_NAME, self._index(entries).encode("utf-8"))
        self._write(self.output_dir / FEED_NAME, self._feed(entries[:FEED_LIMIT]))
        # Last: the manifest is the proof, for reconcile, that the rest was written.
        data = {
            "format": MANIFEST_FORMAT,
            "entries": {e.post_id: e.to_json() for e in sorted(entries, key=lambda e: e.post_id)},
        }
        text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        self._write(self.output_dir / MANIFEST_NAME, text.encode("utf-8"))

    def _write(self, path: Path, data: bytes) -> None:
        """Write `data` to `path` atomically, only when its bytes differ, and never through a
        symbolic link (see `safefs.write_atomic`)."""
        try:
            safefs.write_atomic(self.ctx.root, self._rel(path), data)
        except safefs.UnsafePath as exc:
            raise FeedError(self._unsafe_reason(exc)) from None
        if path not in self.written:
            self.written.append(path)

    def _rel(self, path: Path) -> PurePosixPath:
        try:
            return PurePosixPath(path.relative_to(self.ctx.root).as_posix())
        except ValueError:
            raise FeedError(
                _("output_dir {shown} is not inside the repository").format(
                    shown=self._shown(self.output_dir)
                )
            ) from None

    def _unsafe_reason(self, exc: safefs.UnsafePath) -> str:
        return _("cannot write the site to {folder}: {error}").format(
            folder=self._shown(self.output_dir), error=exc
        )

    def _shown(self, path: Path) -> str:
        try:
            return path.relative_to(self.ctx.root).as_posix()
        except ValueError:
            return str(path)

    def _os_reason(self, exc: OSError) -> str:
        target = Path(exc.filename) if exc.filename else self.output_dir
        if target.name.startswith(".") and target.name.endswith(".tmp"):
            target = target.parent  # our temporary file: name the folder it was made in
        where = self._shown(target)
        why = exc.strerror or type(exc).__name__
        return _(
            "cannot write the site to {folder}: {why} ({where}); check that output_dir is a "
            "writable folder"
        ).format(folder=self._shown(self.output_dir), why=why, where=where)

    # -- rendering ---------------------------------------------------------------------------

    def _lang(self, entry: _Entry | None = None) -> str:
        if entry is not None and entry.language:
            return entry.language
        return self.language or "und"  # BCP 47 "undetermined"

    def _head(self, title: str, lang: str, prefix: str, canonical: str | None) -> str:
        e = html.escape
        lines = [
            "<!DOCTYPE html>",
            f'<html lang="{e(lang)}">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(title)}</title>",
            f'<link rel="alternate" type="application/atom+xml" title="{e(self.title)}" '
            f'href="{e(prefix + FEED_NAME)}">',
        ]
        if canonical:
            lines.append(f'<link rel="canonical" href="{e(canonical)}">')
        lines += [f"<style>{_CSS}</style>", "</head>", "<body>"]
        return "\n".join(lines)

    def _page(self, entry: _Entry) -> str:
        e = html.escape
        lang = self._lang(entry)
        canonical = f"{self.site_url}/{entry.slug}/" if self.site_url else None
        out = [
            self._head(f"{entry.title} · {self.title}", lang, "../", canonical),
            f'<header><a href="../">{e(self.title)}</a></header>',
            "<main>",
            "<article>",
            f"<h1>{e(entry.title)}</h1>",
            f"<p>{_time(entry.published, lang)}</p>",
            entry.html,
            *(_figure(m, "../") for m in entry.media),
            *_tag_list(entry.tags),
            "</article>",
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
        return "\n".join(out)

    def _index(self, entries: list[_Entry]) -> str:
        e = html.escape
        lang = self._lang(entries[0] if entries and not self.language else None)
        canonical = f"{self.site_url}/" if self.site_url else None
        out = [
            self._head(self.title, lang, "", canonical),
            f'<header><a href="./">{e(self.title)}</a> · <a href="{FEED_NAME}">Atom</a></header>',
            "<main>",
            f"<h1>{e(self.title)}</h1>",
        ]
        for entry in entries:
            entry_lang = self._lang(entry)
            attr = f' lang="{e(entry_lang)}"' if entry_lang != lang else ""
            out += [
                f"<article{attr}>",
                f'<h2><a href="{e(entry.slug)}/">{e(entry.title)}</a></h2>',
                f"<p>{_time(entry.published, entry_lang)}</p>",
            ]
            image = next(
                (m for m in entry.media if not m.path.lower().endswith(VIDEO_SUFFIXES)), None
            )
            if image is not None:
                out.append(_figure(image, ""))
            if entry.summary and entry.summary != entry.title:
                out.append(f"<p>{e(entry.summary)}</p>")
            out.append("</article>")
        out += ["</main>", "</body>", "</html>", ""]
        return "\n".join(out)

    def _feed(self, entries: list[_Entry]) -> bytes:
        """The Atom document (RFC 4287 §4.1.1: id, title, updated, author are required)."""
        import xml.etree.ElementTree as ET  # here: validation imports this module for its SPEC

        feed = ET.Element("feed", {"xmlns": ATOM_NS})
        if self.language:
            feed.set(XML_LANG, self.language)
        _sub(feed, "id", self._feed_id())
        _sub(feed, "title", self.title)
        newest = max((e.updated_at for e in entries), default=_parse_date(EPOCH))
        _sub(feed, "updated", _rfc3339(newest))
        base = f"{self.site_url}/" if self.site_url else ""
        ET.SubElement(
            feed,
            "link",
            {"rel": "self", "type": "application/atom+xml", "href": base + FEED_NAME},
        )
        ET.SubElement(feed, "link", {"rel": "alternate", "type": "text/html", "href": base or "./"})
        author = ET.SubElement(feed, "author")
        _sub(author, "name", self.title)
        _sub(feed, "generator", "cmflow")
        for entry in entries:
            item = ET.SubElement(feed, "entry")
            if entry.language and entry.language != self.language:
                item.set(XML_LANG, entry.language)
            _sub(item, "id", entry.id)
            _sub(item, "title", entry.title)
            _sub(item, "updated", entry.updated)
            _sub(item, "published", entry.published)
            ET.SubElement(
                item,
                "link",
                {"rel": "alternate", "type": "text/html", "href": f"{base}{entry.slug}/"},
            )
            for tag in entry.tags:
                ET.SubElement(item, "category", {"term": tag})
            if entry.summary:
                _sub(item, "summary", entry.summary)
            content = "\n".join([entry.html, *(_figure(m, base) for m in entry.media)])
            # type="html": the markup travels escaped once, as text (RFC 4287 §3.1.1.2);
            # ElementTree does that escaping.
            _sub(item, "content", content, type="html")
        ET.indent(feed, space="  ")
        buffer = io.BytesIO(b'<?xml version="1.0" encoding="utf-8"?>\n')
        buffer.seek(0, io.SEEK_END)
        ET.ElementTree(feed).write(buffer, encoding="utf-8", xml_declaration=False)
        return buffer.getvalue() + b"\n"


# -- helpers ------------------------------------------------------------------------------------


def _sub(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    import xml.etree.ElementTree as ET

    child = ET.SubElement(parent, tag, attrs)
    child.text = _xml_text(text)
    return child


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _parse_date(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _rfc3339(value: datetime) -> str:
    text = value.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _date_handle(value: Any, name: str) -> str | None:
    """The date the publisher put in the claim, as RFC 3339 keeping its own offset (a naive
    date is taken as UTC); None when absent."""
    if value is None or value == "":
        return None
    try:
        parsed = value if isinstance(value, datetime) else _parse_date(str(value))
    except ValueError:
        raise FeedError(
            _("the claim's {name} {value!r} is not an ISO 8601 date").format(name=name, value=value)
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _rfc3339(parsed)


def _human_date(value: str, lang: str) -> str:
    day = _parse_date(value)  # in the post's own offset: the day its author wrote
    if lang.lower().split("-")[0].split("_")[0] == "fr":
        number = "1er" if day.day == 1 else str(day.day)
        return f"{number} {_FRENCH_MONTHS[day.month - 1]} {day.year}"
    return day.date().isoformat()


def _time(value: str, lang: str) -> str:
    return f'<time datetime="{html.escape(value)}">{html.escape(_human_date(value, lang))}</time>'


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return _cut(line, TITLE_MAX)
    return ""


_SENTENCE_END = re.compile(r"[.!?…](?:[»\"')\]]*)(?=\s)")


def _summary(text: str) -> str:
    """The first paragraph; when it is too long, its whole sentences that fit (a summary cut
    in the middle of a sentence reads as an error), else words and an ellipsis."""
    para = " ".join(next((p for p in re.split(r"\n\s*\n", text) if p.strip()), "").split())
    if len(para) <= SUMMARY_MAX:
        return para
    ends = [m.end() for m in _SENTENCE_END.finditer(para) if m.end() <= SUMMARY_MAX]
    if ends and ends[-1] >= SUMMARY_MAX // 3:
        return para[: ends[-1]]
    return _cut(para, SUMMARY_MAX)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:.") + "…"


def _plain_html(text: str) -> str:
    """HTML for a post rendered without `Rendered.html`: its plain text, paragraph by paragraph."""
    paras = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "\n".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paras)


def _all_media(rendered: Rendered) -> list[Media]:
    return [m for part in rendered.parts for m in part.media]


def public_media_url(site_url: str, path: str) -> str:
    """The public URL of a repository media file (`media/a.jpg`) once a feed channel with
    this `site_url` published a post carrying it (it is copied under `<output_dir>/media/`)."""
    return f"{site_url.rstrip('/')}/{quote(_media_target(path))}"


def _media_target(path: str) -> str:
    """Where a repository media file goes in the site, relative to output_dir."""
    parts = [p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in ("", ".", "/")]
    if parts and parts[0] == MEDIA_DIR:
        parts = parts[1:]
    safe = [re.sub(r"[^A-Za-z0-9._-]+", "-", p).lstrip(".") or "_" for p in parts]
    return "/".join([MEDIA_DIR, *safe])


def _site_media(root: Path, path: str) -> bytes:
    """The bytes of a post's media, checked now for the site (see the module docstring)."""
    try:
        loaded = media_files.load(root, path)
    except media_files.MediaProblem as exc:
        raise FeedError(str(exc)) from None
    if loaded.mime == media_files.SVG:
        raise FeedError(
            _(
                "media {path} is an SVG image, which can carry scripts that would run on the "
                "site: export it as PNG, JPEG or WebP"
            ).format(path=path)
        )
    return loaded.data


def _check_output_relative(path: str) -> None:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not path.startswith(MEDIA_DIR + "/"):
        raise ValueError(
            _("media path {path!r} is not inside {folder}/").format(path=path, folder=MEDIA_DIR)
        )


def _figure(media: _Media, prefix: str) -> str:
    e = html.escape
    src = e(prefix + quote(media.path))
    alt = e(media.alt or "")
    if media.path.lower().endswith(VIDEO_SUFFIXES):
        label = f' aria-label="{alt}"' if alt else ""
        return f'<figure><video controls preload="metadata" src="{src}"{label}></video></figure>'
    return f'<figure><img src="{src}" alt="{alt}" loading="lazy"></figure>'


def _tag_list(tags: list[str]) -> list[str]:
    if not tags:
        return []
    items = "".join(f"<li>{html.escape(t)}</li>" for t in tags)
    return [f'<ul class="tags">{items}</ul>']

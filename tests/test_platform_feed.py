"""The `feed` platform: Atom feed (RFC 4287) + static HTML site written to output_dir.

No network: the adapter only writes files. Posts go through the real parser and renderer
(`render(..., html=True)`), the feed is read back with xml.etree, the pages with
html.parser, and idempotency is checked on the bytes of every file written.
"""

from __future__ import annotations

import hashlib
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cmflow import config as config_mod
from cmflow.content import parse_post
from cmflow.http import Http
from cmflow.model import Part, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult
from cmflow.platforms.feed import MANIFEST_NAME, Adapter, slug_for
from cmflow.render import render

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SITE = "https://example.fr/actus"
PARIS = ZoneInfo("Europe/Paris")
JPEG = b"\xff\xd8\xff\xe0" + b"photo-bytes" * 20

CHANNELS = f"""\
timezone: Europe/Paris
channels:
  site:
    platform: feed
    output_dir: public
    site_url: {SITE}/
    title: "Actus de La Fabrique & Cie"
    language: fr
  bare:
    platform: feed
"""

POST_IMAGE = """\
---
date: 2026-11-24 09:30
channels: [site, bare]
title: "Atelier « Écrire pour être lu » à Lyon"
tags: [atelier]
media:
  - path: media/atelier.jpg
    alt: "Deux participantes à l'atelier, carnets ouverts"
---
Notre prochain atelier a lieu à la Croix-Rousse : **inscriptions ouvertes**.

Places limitées à 12 personnes.
"""

POST_TAGS = """\
---
date: 2026-11-20 18:00
channels: [site, bare]
tags: [modération, communauté, modération]
---
Vos questions sur la modération, nos réponses.

Un fil à lire avant la fin de l'année.
"""

POST_ESCAPE = """\
---
date: 2026-12-01 08:00
channels: [site, bare]
title: "Kit <éditorial> & modèles"
---
Le kit est disponible : <b>5 &amp; 6</b> `<script>` compris.
"""


# -- a tiny in-memory Progress --------------------------------------------------------------


@dataclass
class FakeProgress:
    handles: Mapping[str, Any] = field(default_factory=dict)
    done: list[PartResult] = field(default_factory=list)
    started_at: datetime | None = None
    events: list[tuple[str, int]] = field(default_factory=list)

    def part_started(self, index: int) -> None:
        self.events.append(("started", index))

    def part_done(self, index: int, result: PartResult) -> None:
        self.events.append(("done", index))
        self.done.append(result)


# -- fixtures -------------------------------------------------------------------------------


@dataclass
class Repo:
    root: Path
    cfg: config_mod.Config
    http: Http

    def adapter(self, channel: str = "site") -> Adapter:
        ctx = Context(self.cfg.channels[channel], self.root, self.http, {})
        return Adapter(ctx)

    def rendered(self, name: str, text: str, channel: str = "site") -> tuple[Rendered, str]:
        rel = f"content/{name}.md"
        post = parse_post(rel, text.encode("utf-8"), PARIS, self.cfg.channels)
        assert not [p for p in post.problems if p.level == "error"], post.problems
        assert post.date is not None
        return render(post, self.cfg.channels[channel], html=True), post.date.isoformat()

    def publish(
        self, name: str, text: str, channel: str = "site"
    ) -> tuple[Adapter, Rendered, FakeProgress, Any]:
        adapter = self.adapter(channel)
        rendered, date = self.rendered(name, text, channel)
        progress = FakeProgress(handles={**adapter.prepare(rendered, f"{name}:k1"), "date": date})
        return adapter, rendered, progress, adapter.publish(rendered, progress)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    (tmp_path / "channels.yaml").write_text(CHANNELS, encoding="utf-8")
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "atelier.jpg").write_bytes(JPEG)
    with Http(read_timeout=1.0) as http:
        yield Repo(tmp_path, config_mod.load(tmp_path), http)


def publish_three(repo: Repo) -> dict[str, Rendered]:
    out: dict[str, Rendered] = {}
    # Deliberately not in date order: the feed sorts them.
    for name, text in (
        ("atelier", POST_IMAGE),
        ("kit", POST_ESCAPE),
        ("questions", POST_TAGS),
    ):
        _, rendered, progress, result = repo.publish(name, text)
        assert result.outcome == Outcome.PUBLISHED, result.reason
        assert progress.events == [("started", 0), ("done", 0)]
        assert result.parts == progress.done
        out[name] = rendered
    return out


def tree_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def feed_of(repo: Repo, output: str = "public") -> ET.Element:
    return ET.parse(repo.root / output / "feed.xml").getroot()


def text_of(element: ET.Element, path: str) -> str:
    found = element.find(path)
    assert found is not None, f"missing {path}"
    return found.text or ""


class TagBalance(HTMLParser):
    """Checks that a page's elements nest properly and collects <img> attributes."""

    VOID = frozenset({"meta", "link", "img", "br", "hr", "input", "source"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.seen: list[str] = []
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def check_page(path: Path) -> TagBalance:
    parser = TagBalance()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    assert parser.doctype.lower() == "doctype html"
    assert not parser.errors and not parser.stack, (parser.errors, parser.stack)
    return parser


# -- the feed -------------------------------------------------------------------------------


def test_feed_has_the_rfc4287_required_elements_newest_first(repo: Repo) -> None:
    rendered = publish_three(repo)
    feed = feed_of(repo)
    assert feed.tag == f"{ATOM}feed"
    assert feed.get(XML_LANG) == "fr"
    assert text_of(feed, f"{ATOM}id") == f"{SITE}/"
    assert text_of(feed, f"{ATOM}title") == "Actus de La Fabrique & Cie"
    assert text_of(feed, f"{ATOM}author/{ATOM}name") == "Actus de La Fabrique & Cie"
    links = {(link.get("rel"), link.get("href")) for link in feed.findall(f"{ATOM}link")}
    assert ("self", f"{SITE}/feed.xml") in links
    assert ("alternate", f"{SITE}/") in links

    entries = feed.findall(f"{ATOM}entry")
    ids = [text_of(e, f"{ATOM}id") for e in entries]
    slugs = ["kit", "atelier", "questions"]  # 1 Dec, 24 Nov, 20 Nov
    assert ids == [f"{SITE}/{s}/" for s in slugs]
    # feed updated = the newest entry's updated, which is the post's date, not "now"
    assert text_of(feed, f"{ATOM}updated") == "2026-12-01T08:00:00+01:00"
    for entry, slug in zip(entries, slugs, strict=True):
        for required in ("id", "title", "updated", "published"):
            assert text_of(entry, f"{ATOM}{required}")
        alternate = entry.find(f"{ATOM}link[@rel='alternate']")
        assert alternate is not None and alternate.get("href") == f"{SITE}/{slug}/"
        datetime.fromisoformat(text_of(entry, f"{ATOM}updated"))  # RFC 3339 with offset

    kit, atelier, questions = entries
    assert text_of(atelier, f"{ATOM}title") == "Atelier « Écrire pour être lu » à Lyon"
    assert text_of(atelier, f"{ATOM}published") == "2026-11-24T09:30:00+01:00"
    content = atelier.find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    html_text = content.text or ""
    assert html_text.startswith(rendered["atelier"].html or "<missing>")
    assert "<strong>inscriptions ouvertes</strong>" in html_text
    assert (
        f'<img src="{SITE}/media/atelier.jpg" alt="Deux participantes à l&#x27;atelier, '
        'carnets ouverts"' in html_text
    )
    assert [c.get("term") for c in atelier.findall(f"{ATOM}category")] == ["atelier"]
    assert text_of(atelier, f"{ATOM}summary").startswith("Notre prochain atelier")

    # No title in the post: the first line of the text stands in.
    assert text_of(questions, f"{ATOM}title") == "Vos questions sur la modération, nos réponses."
    terms = [c.get("term") for c in questions.findall(f"{ATOM}category")]
    assert terms == ["modération", "communauté"]

    # Escaped exactly once: the title as text, the HTML content as text of type="html".
    assert text_of(kit, f"{ATOM}title") == "Kit <éditorial> & modèles"
    raw = (repo.root / "public" / "feed.xml").read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n')
    assert b"<title>Kit &lt;\xc3\xa9ditorial&gt; &amp; mod\xc3\xa8les</title>" in raw
    assert b"&lt;strong&gt;inscriptions ouvertes&lt;/strong&gt;" in raw
    assert b"&amp;lt;strong" not in raw


def test_results_carry_the_entry_id_and_page_url(repo: Repo) -> None:
    adapter, rendered, progress, result = repo.publish("atelier", POST_IMAGE)
    assert progress.handles["slug"] == "atelier"
    assert result.outcome == Outcome.PUBLISHED
    assert result.remote_id == f"{SITE}/atelier/"
    assert result.url == f"{SITE}/atelier/"
    out = repo.root / "public"
    assert set(adapter.written) == {
        out / "media" / "atelier.jpg",
        out / "atelier" / "index.html",
        out / "index.html",
        out / "feed.xml",
        out / MANIFEST_NAME,
    }
    assert adapter.written[-1] == out / MANIFEST_NAME  # the manifest is written last
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    entry = manifest["entries"]["atelier"]
    assert entry["id"] == f"{SITE}/atelier/"
    assert entry["slug"] == "atelier"
    assert entry["published"] == "2026-11-24T09:30:00+01:00"
    assert entry["media"] == [
        {"path": "media/atelier.jpg", "alt": "Deux participantes à l'atelier, carnets ouverts"}
    ]
    assert entry["tags"] == ["atelier"]
    assert entry["html"] == rendered.html


# -- the pages ------------------------------------------------------------------------------


def test_pages_are_html5_with_alt_text_escaped_titles_and_french_dates(repo: Repo) -> None:
    publish_three(repo)
    out = repo.root / "public"
    assert (out / "media" / "atelier.jpg").read_bytes() == JPEG

    page = out / "atelier" / "index.html"
    parsed = check_page(page)
    text = page.read_text(encoding="utf-8")
    assert '<html lang="fr">' in text
    assert '<meta charset="utf-8">' in text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert (
        '<link rel="alternate" type="application/atom+xml" '
        'title="Actus de La Fabrique &amp; Cie" href="../feed.xml">'
    ) in text
    assert "<style>" in text and "http" not in text.split("<style>")[1].split("</style>")[0]
    assert parsed.images == [
        {
            "src": "../media/atelier.jpg",
            "alt": "Deux participantes à l'atelier, carnets ouverts",
            "loading": "lazy",
        }
    ]
    assert '<time datetime="2026-11-24T09:30:00+01:00">24 novembre 2026</time>' in text
    assert "<h1>Atelier « Écrire pour être lu » à Lyon</h1>" in text

    kit = (out / "kit" / "index.html").read_text(encoding="utf-8")
    check_page(out / "kit" / "index.html")
    assert "<h1>Kit &lt;éditorial&gt; &amp; modèles</h1>" in kit
    assert "<title>Kit &lt;éditorial&gt; &amp; modèles · Actus" in kit
    assert "1er décembre 2026" in kit

    questions = (out / "questions" / "index.html").read_text(encoding="utf-8")
    assert '<ul class="tags"><li>modération</li><li>communauté</li></ul>' in questions

    index = out / "index.html"
    check_page(index)
    home = index.read_text(encoding="utf-8")
    assert 'href="feed.xml"' in home
    positions = [home.index(f'<a href="{slug}/">') for slug in ("kit", "atelier", "questions")]
    assert positions == sorted(positions)  # newest first
    assert "20 novembre 2026" in home and "Places limitées" not in home
    assert "Notre prochain atelier a lieu à la Croix-Rousse" in home  # summary


# -- idempotency and edits ---------------------------------------------------------------------


def test_publishing_the_same_post_again_changes_no_byte(repo: Repo) -> None:
    publish_three(repo)
    out = repo.root / "public"
    before = tree_hashes(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}

    adapter, _, _, result = repo.publish("atelier", POST_IMAGE)
    assert result.outcome == Outcome.PUBLISHED
    assert tree_hashes(out) == before
    # Nothing was rewritten (the media copy included): only changed bytes are written.
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    assert adapter.written  # still listed, for the publisher's commit
    assert len(feed_of(repo).findall(f"{ATOM}entry")) == 3
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert len(manifest["entries"]) == 3
    assert not [p for p in out.rglob("*.tmp")]


def test_an_edited_post_replaces_its_entry(repo: Repo) -> None:
    publish_three(repo)
    edited = POST_TAGS.replace("tags: [modération, communauté, modération]", "tags: [faq]")
    edited = edited.replace("nos réponses.", "nos réponses détaillées.")
    _, _, _, result = repo.publish("questions", edited)
    assert result.outcome == Outcome.PUBLISHED

    entries = feed_of(repo).findall(f"{ATOM}entry")
    assert [text_of(e, f"{ATOM}id") for e in entries].count(f"{SITE}/questions/") == 1
    assert len(entries) == 3
    questions = entries[2]
    assert text_of(questions, f"{ATOM}title").endswith("nos réponses détaillées.")
    assert [c.get("term") for c in questions.findall(f"{ATOM}category")] == ["faq"]
    page = (repo.root / "public" / "questions" / "index.html").read_text(encoding="utf-8")
    assert "détaillées" in page and "modération</li>" not in page


# -- reconcile ----------------------------------------------------------------------------------


def test_reconcile_finds_published_entries_and_proves_absence(repo: Repo) -> None:
    publish_three(repo)
    adapter = repo.adapter()
    rendered, date = repo.rendered("atelier", POST_IMAGE)
    progress = FakeProgress(handles={**adapter.prepare(rendered, "k2"), "date": date})
    found = adapter.reconcile(rendered, progress)
    assert found.outcome == Outcome.PUBLISHED
    assert [p.id for p in found.parts] == [f"{SITE}/atelier/"]
    assert found.url == f"{SITE}/atelier/"

    other = POST_TAGS.replace("Vos questions", "Un autre post")
    rendered_other, date = repo.rendered("jamais-publie", other)
    progress = FakeProgress(handles={**adapter.prepare(rendered_other, "k3"), "date": date})
    assert adapter.reconcile(rendered_other, progress).outcome == Outcome.ABSENT

    # Another channel writing elsewhere has not published it.
    bare = repo.adapter("bare")
    rendered_bare, date = repo.rendered("atelier", POST_IMAGE, "bare")
    progress = FakeProgress(handles={**bare.prepare(rendered_bare, "k4"), "date": date})
    assert bare.reconcile(rendered_bare, progress).outcome == Outcome.ABSENT


def test_a_damaged_manifest_is_never_overwritten(repo: Repo) -> None:
    publish_three(repo)
    manifest = repo.root / "public" / MANIFEST_NAME
    manifest.write_text('{"entries": {"atelier": ', encoding="utf-8")
    adapter, rendered, progress, result = repo.publish("atelier", POST_IMAGE)
    assert result.outcome == Outcome.FAILED
    assert result.reason is not None and "public/.cmflow-feed.json is damaged" in result.reason
    assert progress.events == []  # nothing started
    assert manifest.read_text(encoding="utf-8") == '{"entries": {"atelier": '
    assert adapter.reconcile(rendered, FakeProgress(handles=progress.handles)).outcome == (
        Outcome.UNKNOWN
    )


# -- failures -----------------------------------------------------------------------------------


def test_output_dir_that_cannot_be_written_fails_with_a_reason(repo: Repo) -> None:
    (repo.root / "public").write_text("not a folder", encoding="utf-8")
    adapter, rendered, progress, result = repo.publish("atelier", POST_IMAGE)
    assert result.outcome == Outcome.FAILED
    assert result.reason is not None
    assert "cannot write the site to public" in result.reason
    assert "output_dir" in result.reason
    assert progress.done == [] and not result.parts
    assert adapter.reconcile(rendered, FakeProgress(handles=progress.handles)).outcome == (
        Outcome.ABSENT
    )


def test_a_write_failing_midway_leaves_no_manifest_entry(repo: Repo) -> None:
    (repo.root / "public" / "feed.xml").mkdir(parents=True)  # os.replace onto a folder fails
    adapter, rendered, progress, result = repo.publish("atelier", POST_IMAGE)
    assert result.outcome == Outcome.FAILED
    assert result.reason is not None and "public/feed.xml" in result.reason
    assert progress.events == [("started", 0)]
    assert not (repo.root / "public" / MANIFEST_NAME).exists()
    assert not list((repo.root / "public").rglob("*.tmp"))
    # Reconcile proves absence, and a later publish (once fixed) completes normally.
    assert adapter.reconcile(rendered, FakeProgress(handles=progress.handles)).outcome == (
        Outcome.ABSENT
    )
    (repo.root / "public" / "feed.xml").rmdir()
    _, _, _, again = repo.publish("atelier", POST_IMAGE)
    assert again.outcome == Outcome.PUBLISHED


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_output_dir_fails(repo: Repo) -> None:
    out = repo.root / "public"
    out.mkdir()
    out.chmod(0o555)
    try:
        _, _, _, result = repo.publish("atelier", POST_IMAGE)
    finally:
        out.chmod(0o755)
    assert result.outcome == Outcome.FAILED
    assert result.reason is not None and "Permission denied" in result.reason


def test_missing_media_or_media_outside_the_repository_fail(repo: Repo) -> None:
    _, _, _, result = repo.publish("a", POST_IMAGE.replace("media/atelier.jpg", "media/nope.jpg"))
    assert result.outcome == Outcome.FAILED
    assert result.reason is not None
    assert result.reason.startswith("media media/nope.jpg does not exist")
    (repo.root.parent / "outside.jpg").write_bytes(JPEG)
    _, _, _, result = repo.publish("b", POST_IMAGE.replace("media/atelier.jpg", "../outside.jpg"))
    assert result.outcome == Outcome.FAILED
    assert result.reason is not None and "leaves the repository" in result.reason
    assert not (repo.root / "public" / "media" / "outside.jpg").exists()


# -- without site_url, without a date, resuming ----------------------------------------------


def test_without_site_url_links_are_relative_and_ids_are_tag_uris(repo: Repo) -> None:
    _, _, _, result = repo.publish("atelier", POST_IMAGE, channel="bare")
    assert result.outcome == Outcome.PUBLISHED
    assert result.remote_id == "tag:cmflow.invalid,2026:bare/atelier"
    assert result.url == "public/atelier/index.html"
    feed = feed_of(repo)
    assert text_of(feed, f"{ATOM}id") == "tag:cmflow.invalid,2026:bare"
    assert text_of(feed, f"{ATOM}title") == "bare"  # defaults to the channel name
    links = {(link.get("rel"), link.get("href")) for link in feed.findall(f"{ATOM}link")}
    assert links == {("self", "feed.xml"), ("alternate", "./")}
    entry = feed.find(f"{ATOM}entry")
    assert entry is not None
    assert text_of(entry, f"{ATOM}content").endswith(
        '<img src="media/atelier.jpg" alt="Deux participantes à l&#x27;atelier, '
        'carnets ouverts" loading="lazy"></figure>'
    )
    page = (repo.root / "public" / "atelier" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="und">' in page and "canonical" not in page
    assert '<time datetime="2026-11-24T09:30:00+01:00">2026-11-24</time>' in page


def test_without_a_date_handle_the_epoch_is_used(repo: Repo) -> None:
    adapter = repo.adapter()
    rendered = Rendered(
        post_id="Été 2026 !",
        channel="site",
        platform="feed",
        parts=[Part("Première ligne & <suite>\nDeuxième ligne")],
    )
    progress = FakeProgress(handles=adapter.prepare(rendered, "k"))
    result = adapter.publish(rendered, progress)
    assert result.outcome == Outcome.PUBLISHED
    slug = progress.handles["slug"]
    assert slug.startswith("ete-2026-") and result.url == f"{SITE}/{slug}/"
    entry = feed_of(repo).find(f"{ATOM}entry")
    assert entry is not None
    assert text_of(entry, f"{ATOM}published") == "1970-01-01T00:00:00Z"
    assert text_of(entry, f"{ATOM}title") == "Première ligne & <suite>"
    # No Rendered.html: the plain text, escaped, stands in.
    assert (
        text_of(entry, f"{ATOM}content")
        == "<p>Première ligne &amp; &lt;suite&gt;<br>Deuxième ligne</p>"
    )
    page = (repo.root / "public" / slug / "index.html").read_text(encoding="utf-8")
    assert "1 janvier 1970" not in page and "1er janvier 1970" in page


def test_an_already_recorded_part_is_not_written_again(repo: Repo) -> None:
    adapter = repo.adapter()
    rendered, date = repo.rendered("atelier", POST_IMAGE)
    done = PartResult(f"{SITE}/atelier/", f"{SITE}/atelier/")
    progress = FakeProgress(handles={"slug": "atelier", "date": date}, done=[done])
    result = adapter.publish(rendered, progress)
    assert result.outcome == Outcome.PUBLISHED and result.parts == [done]
    assert progress.events == [] and not (repo.root / "public").exists()


def test_slugs_are_safe_stable_and_distinct() -> None:
    assert slug_for("2026-11-24-atelier") == "2026-11-24-atelier"
    assert slug_for("Été 2026") == slug_for("Été 2026")
    assert slug_for("Été 2026").startswith("ete-2026-")
    assert slug_for("ete-2026") == "ete-2026"
    assert slug_for("Post") != slug_for("post") == "post"
    assert slug_for("media").startswith("media-")  # the media folder is reserved
    assert slug_for("../../etc").startswith("etc-")
    assert slug_for("日本").startswith("post-")


# -- media checked again when copied, files never written through a link -----------------------


def test_media_swapped_for_a_link_to_git_config_after_validate_is_not_copied(repo: Repo) -> None:
    (repo.root / ".git").mkdir()
    (repo.root / ".git" / "config").write_bytes(b"[http]\n\textraheader = AUTHORIZATION: basic x\n")
    photo = repo.root / "media" / "atelier.jpg"
    photo.unlink()
    photo.symlink_to("../.git/config")
    _, _, progress, result = repo.publish("atelier", POST_IMAGE)
    assert result.outcome == Outcome.FAILED
    assert result.reason is not None and ".git" in result.reason
    assert progress.done == []
    assert not (repo.root / "public" / "media" / "atelier.jpg").exists()


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
        (b"<html><script>alert(1)</script></html>", "not a format cmflow recognises"),
    ],
)
def test_the_site_never_serves_svg_or_unknown_bytes(repo: Repo, data: bytes, why: str) -> None:
    (repo.root / "media" / "atelier.jpg").write_bytes(data)
    _, _, _, result = repo.publish("atelier", POST_IMAGE)
    assert result.outcome == Outcome.FAILED
    assert result.reason is not None and why in result.reason
    assert not (repo.root / "public" / "media").exists()


@pytest.mark.parametrize(
    "link", ["public", "public/media", "public/atelier-dans-la-ville", "public/feed.xml"]
)
def test_no_file_is_written_through_a_link(repo: Repo, tmp_path: Path, link: str) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-dehors"
    outside.mkdir()
    (outside / "feed.xml").write_text("à garder\n", encoding="utf-8")
    path = repo.root / link
    path.parent.mkdir(parents=True, exist_ok=True)
    if link == "public/atelier-dans-la-ville":
        link = f"public/{slug_for('atelier')}"
        path = repo.root / link
    path.symlink_to(outside / "feed.xml" if link.endswith(".xml") else outside)
    _, _, progress, result = repo.publish("atelier", POST_IMAGE)
    assert result.outcome == Outcome.FAILED
    assert result.reason is not None
    assert f"{link} is a symbolic link" in result.reason, result.reason
    assert progress.done == []
    assert sorted(p.name for p in outside.iterdir()) == ["feed.xml"]
    assert (outside / "feed.xml").read_text(encoding="utf-8") == "à garder\n"

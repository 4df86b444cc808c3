"""Facebook Page: text and link posts, one photo, several photos as one post; exactly once.

Channel settings: `page_id`, `token_env` (a Page access token with `pages_manage_posts` and
`pages_read_engagement`), optional `base_url` (default `https://graph.facebook.com/v25.0`).

Shape of the calls (developers.facebook.com/docs/pages-api/posts,
`graph-api/reference/page/photos`, `graph-api/reference/page/feed`):

- Text (and link): `POST /{page-id}/feed` with `message` and, when the text has a URL, `link`
  (the first one, shown as the preview).
- One image: `POST /{page-id}/photos` with the file as multipart `source`, the text as
  `message` and the alt text as `alt_text_custom`; the answer's `post_id` is the post.
- Several images: each is uploaded with `published=false` (an unpublished photo is no post),
  then one `POST /{page-id}/feed` with `attached_media[i]={"media_fbid": id}`. The photo ids
  are recorded in the claim as they come, so a rerun does not upload them again.

No idempotency key exists. A publishing call whose answer is lost, a 5xx, codes 1/2, or the
duplicate answers (#506 "Duplicate status message", 368 "You've already posted this") are
reconciled by listing `GET /{page-id}/feed?fields=id,message,created_time,permalink_url` and
matching the hash of the message: found → recorded as published; not found → outcome
unknown, looked for again by the next run (never resent blindly: arsduo/koala#699).

Edits (`on_edit: update`, pages-api/posts "Update a post"): `POST /{page-post-id}` with the
new `message`, answered `{"success": true}`. Only the text changes: the link preview and the
photos stay as published. An unknown or deleted post is Graph error 100 (subcode 33, "Object
with ID ... does not exist"). An edit whose answer is lost is settled by reading the post's
`message` back (`GET /{page-post-id}?fields=id,message`), never by sending it again blindly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from cmflow import counting
from cmflow.i18n import _
from cmflow.media import inspect
from cmflow.model import Media, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.graph import (
    Answer,
    GraphClient,
    Halt,
    Lookup,
    normalise,
    part_handles,
    text_hash,
)
from cmflow.platforms.spec import Capability, ConnKey, PlatformSpec, caps, token

MAX_PHOTOS = 10
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def credential_help() -> str:
    return _(
        "create a new Page access token with pages_manage_posts and pages_read_engagement "
        "and store it in that secret"
    )


GRAPH_ID = r"[0-9]+"

SPEC = PlatformSpec(
    name="facebook",
    label="Facebook Page",
    counter="chars",
    defaults={
        "max_length": 63_206,
        "max_media": MAX_PHOTOS,
        "media_types": list(IMAGE_TYPES),
    },
    keys=(
        ConnKey(
            "page_id",
            "Facebook Page id",
            alt_kinds=("int",),
            required=True,
            pattern=GRAPH_ID,
            shape="a numeric Page id",
        ),
        token("environment variable holding the Page access token"),
    ),
    # EDITS: POST /{page-post-id} with `message`, see `Adapter.edit`.
    capabilities=caps(Capability.ALT_TEXT, Capability.RECONCILES, Capability.EDITS),
    default_base_url="https://graph.facebook.com/v25.0",
    source="developers.facebook.com pages-api/posts; length third-party",
)


class Adapter:
    """Publishes one post to a Facebook Page."""

    #: Pages of the Page's feed read when looking for a post.
    lookup_pages: int = 4

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.graph = GraphClient(ctx, "Facebook", credential_help)
        self.page_id = str(ctx.channel.setting("page_id") or "")

    # -- the contract -------------------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        """The hash the post is recognised by in the Page's feed (reconciliation)."""
        return {"text_sha256": [text_hash(self._text(rendered))]}

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        done = list(progress.done)
        if done:
            return Result(Outcome.PUBLISHED, done)
        text = self._text(rendered)
        media = [m for p in rendered.parts for m in p.media]
        try:
            self._check(media)
            files: dict[str, tuple[str, bytes, str]] | None = None
            if not media:
                path = f"{self.page_id}/feed"
                fields = {"message": text}
                link = self._first_link(rendered)
                if link:
                    fields["link"] = link
            elif len(media) == 1:
                path = f"{self.page_id}/photos"
                fields = {"message": text, "published": "true"}
                if media[0].alt:
                    fields["alt_text_custom"] = media[0].alt
                files = {"source": self._file(media[0])}
            else:
                photos = self._unpublished_photos(media, progress)
                path = f"{self.page_id}/feed"
                fields = {"message": text}
                for i, photo in enumerate(photos):
                    fields[f"attached_media[{i}]"] = json.dumps({"media_fbid": photo})
            progress.part_started(0)
            part = self._send(path, fields, files, text, progress)
        except Halt as halt:
            return halt.result(done)
        progress.part_done(0, part)
        return Result(Outcome.PUBLISHED, [part])

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        if progress.done:
            return Result(Outcome.ABSENT, reason=_("no part of this post is in flight"))
        look = self._lookup(self._text(rendered), progress)
        if look.found is not None:
            return Result(Outcome.PUBLISHED, [self._part(look.found)])
        if look.absent:
            return Result(Outcome.ABSENT, reason=look.reason)
        last = self.graph.last
        return Result(
            Outcome.UNKNOWN,
            reason=look.reason,
            retry_after=last.retry_after if last is not None else None,
            needs_reauth=last is not None and last.kind == "auth",
        )

    # -- edits (cmflow.platforms.base.Editor) -------------------------------------------------

    def edit(self, rendered: Rendered, progress: Progress) -> Result:
        """Give the published post the post's text as its `message`. Sent once (no
        transport retry): an unclear answer is read back by the next run (`edited`)."""
        done = list(progress.done)
        if not done:
            return Result(Outcome.FAILED, done, reason=_("the post: nothing published to edit"))
        answer = self.graph.post(quote(done[0].id, safe=""), {"message": self._text(rendered)})
        if answer.ok and answer.data.get("success") is True:
            return Result(Outcome.PUBLISHED, done)
        if answer.ok:
            answer.kind, answer.reason = "unknown", _("answered without success: true")
        if _gone(answer):
            return Result(
                Outcome.FAILED,
                done,
                reason=_("the post: {reason} (deleted from the Page?)").format(
                    reason=answer.reason
                ),
            )
        return self.graph.halt(_("the edit"), answer, sent=True).result(done)

    def edited(self, rendered: Rendered, progress: Progress) -> Result:
        """Read the post's message back and compare it with the edit."""
        done = list(progress.done)
        if not done:
            return Result(Outcome.ABSENT)  # edit() says why, plainly
        answer = self.graph.get(quote(done[0].id, safe=""), {"fields": "id,message"})
        if _gone(answer):
            return Result(Outcome.ABSENT)  # edit() is then refused, plainly
        message = answer.data.get("message") if answer.ok else None
        if not answer.ok or not isinstance(message, str):
            return Result(
                Outcome.UNKNOWN,
                done,
                reason=_("the post: cannot read it back to check the edit: {reason}").format(
                    reason=answer.reason
                ),
                retry_after=answer.retry_after,
                needs_reauth=answer.kind == "auth",
            )
        if normalise(message) == normalise(self._text(rendered)):
            return Result(Outcome.PUBLISHED, done)
        return Result(Outcome.ABSENT)

    # -- sending ------------------------------------------------------------------------------

    def _send(
        self,
        path: str,
        fields: dict[str, str],
        files: dict[str, tuple[str, bytes, str]] | None,
        text: str,
        progress: Progress,
    ) -> PartResult:
        answer = self.graph.post(path, fields, files=files)
        if answer.ok:
            ident = answer.data.get("post_id") or answer.data.get("id")
            if isinstance(ident, str | int) and str(ident):
                return self._part({"id": str(ident)})
            answer.kind, answer.reason = "unknown", _("answered without a post id")
        if answer.kind in ("unknown", "duplicate"):
            # Maybe published (a 5xx after the write: arsduo/koala#699), or Facebook says it
            # already has this text: look for it, never send it again.
            look = self._lookup(text, progress)
            if look.found is not None:
                return self._part(look.found)
            raise Halt(
                Outcome.UNKNOWN,
                _(
                    "the post: {reason}; not found in the Page's feed yet ({reason2}): the next "
                    "run looks again before any resend"
                ).format(reason=answer.reason, reason2=look.reason),
            )
        raise self.graph.halt(_("the post"), answer, sent=True)

    def _unpublished_photos(self, media: list[Media], progress: Progress) -> list[str]:
        photos = [p for p in part_handles(progress, 0).get("photos") or [] if isinstance(p, str)]
        for item in media[len(photos) :]:
            fields = {"published": "false"}
            if item.alt:
                fields["alt_text_custom"] = item.alt
            # An unpublished photo is not a post: a transport retry is harmless.
            answer = self.graph.post(
                f"{self.page_id}/photos",
                fields,
                files={"source": self._file(item)},
                retry_safe=True,
            )
            ident = answer.data.get("id") if answer.ok else None
            if not isinstance(ident, str | int) or not str(ident):
                raise self.graph.halt(
                    _("uploading {path}").format(path=item.path), answer, sent=False
                )
            photos.append(str(ident))
            progress.part_handle(0, "photos", list(photos))
        return photos

    def _lookup(self, text: str, progress: Progress) -> Lookup:
        hashes = progress.handles.get("text_sha256")
        wanted = str(hashes[0]) if isinstance(hashes, list) and hashes else text_hash(text)
        since = progress.started_at or datetime.now(UTC)
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return self.graph.find(
            f"{self.page_id}/feed",
            "id,message,created_time,permalink_url",
            "message",
            wanted,
            since,
            pages=self.lookup_pages,
        )

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _text(rendered: Rendered) -> str:
        return "\n\n".join(p.text for p in rendered.parts)

    @staticmethod
    def _first_link(rendered: Rendered) -> str | None:
        for part in rendered.parts:
            if part.links:
                return part.links[0].url
            urls = counting.find_urls(part.text)
            if urls:
                return urls[0][2]
        return None

    def _check(self, media: list[Media]) -> None:
        if len(media) > MAX_PHOTOS:
            raise Halt(
                Outcome.FAILED,
                _("{count} images: cmflow posts at most {limit} to a Facebook Page").format(
                    count=len(media), limit=MAX_PHOTOS
                ),
            )
        for item in media:
            info = inspect(self.ctx.root, item.path)
            if info.problem is not None:
                raise Halt(
                    Outcome.FAILED,
                    _("media {path} {problem}").format(path=item.path, problem=info.problem),
                )
            if info.mime not in IMAGE_TYPES:
                raise Halt(
                    Outcome.FAILED,
                    _("media {path} is {mime}: cmflow posts only images to a Facebook Page").format(
                        path=item.path, mime=info.mime or _("of an unknown type")
                    ),
                )

    def _file(self, item: Media) -> tuple[str, bytes, str]:
        info = inspect(self.ctx.root, item.path)
        if info.path is None:
            raise Halt(
                Outcome.FAILED,
                _("media {path} {problem}").format(path=item.path, problem=info.problem),
            )
        try:
            data = info.path.read_bytes()
        except OSError as exc:
            raise Halt(
                Outcome.FAILED,
                _("media {path} cannot be read ({strerror})").format(
                    path=item.path, strerror=exc.strerror
                ),
            ) from None
        return (info.path.name, data, info.mime or "application/octet-stream")

    def _part(self, item: dict[str, Any]) -> PartResult:
        ident = str(item["id"])
        url = item.get("permalink_url")
        return PartResult(ident, str(url) if url else f"https://www.facebook.com/{ident}")


def _gone(answer: Answer) -> bool:
    """The Graph's answer for an object that does not exist (or no longer does): error 100
    with subcode 33, or a plain 404."""
    return answer.status == 404 or (answer.code == 100 and answer.subcode == 33)

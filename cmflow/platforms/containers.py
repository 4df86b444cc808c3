"""The two-step container flow that Instagram and Threads share: create a container (the
platform fetches the image from a public URL), wait until it is FINISHED, publish it.

Exactly once without an idempotency key: each container id is recorded in the claim
(`Progress.part_handle`) the moment the platform returns it, before anything is published.
A rerun (after a crash, a timeout, or a deferral) polls that container instead of creating
another one; its status says whether it was published (PUBLISHED), is still publishable
(FINISHED, IN_PROGRESS), or must be made again (EXPIRED after 24 h). Only a published
container is looked up in the account's list, by the hash of its text, never by "latest".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from cmflow.i18n import _
from cmflow.media import inspect
from cmflow.model import Part, Rendered
from cmflow.platforms.base import Context, Outcome, PartResult, Progress, Result
from cmflow.platforms.graph import (
    Answer,
    GraphClient,
    Halt,
    Lookup,
    check_media_url,
    media_url_help,
    part_handles,
    public_url,
    text_hash,
)


@dataclass(frozen=True)
class Image:
    path: str
    url: str
    alt: str | None


class ContainerAdapter(ABC):
    """Base of the Instagram and Threads adapters (one instance per channel per run)."""

    label: ClassVar[str]
    create_path: ClassVar[str]  # "media" / "threads", under the user id
    publish_path: ClassVar[str]  # "media_publish" / "threads_publish"
    status_field: ClassVar[str]  # "status_code" / "status"
    text_field: ClassVar[str]  # "caption" / "text"
    image_types: ClassVar[tuple[str, ...]]
    max_images: ClassVar[int]

    #: Longest wait for one container to leave IN_PROGRESS (seconds); then the next run resumes.
    container_wait: float = 120.0
    #: Pages of the account's posts read when looking for a post.
    lookup_pages: int = 4

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.graph = GraphClient(ctx, self.label, self.credential_help)
        self.user_id = str(ctx.channel.setting("user_id") or "me")

    @staticmethod
    @abstractmethod
    def credential_help() -> str:
        """What to do when the token is refused (which token to create, with which scopes)."""

    # -- what differs between platforms -------------------------------------------------------

    def texts(self, rendered: Rendered) -> list[str]:
        return [p.text for p in rendered.parts]

    @abstractmethod
    def single_fields(self, text: str, image: Image | None, reply_to: str | None) -> dict[str, str]:
        """The container of a post with at most one image."""

    @abstractmethod
    def child_fields(self, image: Image) -> dict[str, str]:
        """The container of one carousel item."""

    @abstractmethod
    def carousel_fields(
        self, text: str, children: list[str], reply_to: str | None
    ) -> dict[str, str]:
        """The carousel container holding `children`."""

    def part_at(self, rendered: Rendered, index: int, text: str) -> Part:
        return rendered.parts[index] if index < len(rendered.parts) else Part(text)

    def list_path(self, index: int) -> str:
        return f"{self.user_id}/{self.create_path}"

    def check(self, rendered: Rendered) -> None:  # noqa: B027 - optional hook, default: none
        """Refuse, before any call, what the platform cannot take."""

    # -- the contract -------------------------------------------------------------------------

    def prepare(self, rendered: Rendered, key: str) -> dict[str, Any]:
        """The hash each part is recognised by in the account's list (reconciliation)."""
        return {"text_sha256": [text_hash(t) for t in self.texts(rendered)]}

    def publish(self, rendered: Rendered, progress: Progress) -> Result:
        done = list(progress.done)
        texts = self.texts(rendered)
        try:
            self.check(rendered)
            for i in range(len(done), len(texts)):
                part = self.part_at(rendered, i, texts[i])
                reply_to = done[-1].id if done else None
                what = self._where(i, len(texts))
                container = self._ready_container(progress, i, texts[i], part, reply_to, what)
                if isinstance(container, PartResult):
                    result = container  # the container was published by an earlier run
                else:
                    progress.part_started(i)
                    result = self._publish(container, texts[i], i, what, progress)
                progress.part_done(i, result)
                done.append(result)
        except Halt as halt:
            return halt.result(done)
        return Result(Outcome.PUBLISHED, done)

    def reconcile(self, rendered: Rendered, progress: Progress) -> Result:
        index = len(progress.done)
        texts = self.texts(rendered)
        if index >= len(texts):
            return Result(Outcome.ABSENT, reason=_("no part of this post is in flight"))
        what = self._where(index, len(texts))
        container = part_handles(progress, index).get("container")
        try:
            if isinstance(container, str) and container:
                status, detail = self.graph.container_status(container, self.status_field)
                if status == "PUBLISHED":
                    return Result(
                        Outcome.PUBLISHED,
                        [self._find_published(texts[index], index, what, progress)],
                    )
                if status:
                    # Not published: publish() resumes (or, once expired, remakes) it.
                    return Result(
                        Outcome.ABSENT,
                        reason=_("{what}: container {container} is {status}, not published").format(
                            what=what, container=container, status=status
                        ),
                    )
                raise self.graph.halt(
                    _("{what}: checking container {container}").format(
                        what=what, container=container
                    ),
                    self._last(detail),
                    sent=True,
                )
            look = self._lookup(texts[index], index, progress)
        except Halt as halt:
            return Result(
                Outcome.UNKNOWN,
                reason=halt.reason,
                retry_after=halt.retry_after,
                needs_reauth=halt.needs_reauth,
            )
        if look.found is not None:
            return Result(Outcome.PUBLISHED, [self._part(look.found)])
        if look.absent:
            return Result(
                Outcome.ABSENT, reason=_("{what}: {reason}").format(what=what, reason=look.reason)
            )
        last = self.graph.last
        return Result(
            Outcome.UNKNOWN,
            reason=_("{what}: {reason}").format(what=what, reason=look.reason),
            retry_after=last.retry_after if last is not None else None,
            needs_reauth=last is not None and last.kind == "auth",
        )

    # -- containers ---------------------------------------------------------------------------

    def _ready_container(
        self,
        progress: Progress,
        index: int,
        text: str,
        part: Part,
        reply_to: str | None,
        what: str,
    ) -> str | PartResult:
        """A FINISHED container for this part: the recorded one, else a new one. A recorded
        container found PUBLISHED gives the published post instead."""
        recorded = part_handles(progress, index)
        container = recorded.get("container")
        if isinstance(container, str) and container:
            status = self.graph.wait_finished(
                container, self.status_field, what, self.container_wait
            )
            if status == "FINISHED":
                return container
            if status == "PUBLISHED":
                return self._find_published(text, index, what, progress)
            if status == "ERROR":
                raise self._container_error(container, what)
            # EXPIRED (not published within 24 h): make new ones, images included.
            progress.part_handle(index, "container", None)
            progress.part_handle(index, "children", [])
            recorded = {}
        images = self._images(part, what)
        if len(images) > 1:
            children = [c for c in recorded.get("children") or [] if isinstance(c, str)]
            for image in images[len(children) :]:
                children.append(self._create(self.child_fields(image), f"{what}, {image.path}"))
                progress.part_handle(index, "children", list(children))
            for child in children:
                status = self.graph.wait_finished(
                    child, self.status_field, what, self.container_wait
                )
                if status != "FINISHED":
                    raise self._container_error(child, what, status)
            fields = self.carousel_fields(text, children, reply_to)
        else:
            fields = self.single_fields(text, images[0] if images else None, reply_to)
        container = self._create(fields, what)
        progress.part_handle(index, "container", container)
        status = self.graph.wait_finished(container, self.status_field, what, self.container_wait)
        if status != "FINISHED":
            raise self._container_error(container, what, status)
        return container

    def _create(self, fields: dict[str, str], what: str) -> str:
        # A container is not a post: when its answer is lost, nothing was published, and
        # the next attempt makes another (an orphan container expires after 24 h).
        answer = self.graph.post(f"{self.user_id}/{self.create_path}", fields)
        ident = answer.data.get("id") if answer.ok else None
        if not isinstance(ident, str | int) or not str(ident):
            if answer.ok:
                raise Halt(
                    Outcome.RETRY,
                    _("{what}: {label} answered without a container id").format(
                        what=what, label=self.label
                    ),
                )
            raise self.graph.halt(
                _("{what}: creating the container").format(what=what), answer, sent=False
            )
        return str(ident)

    def _container_error(self, container: str, what: str, status: str = "ERROR") -> Halt:
        _ignored, detail = self.graph.container_status(container, self.status_field)
        return Halt(
            Outcome.FAILED,
            _(
                "{what}: {platform} could not process container {container} ({status}); "
                "check that each image is reachable and in a supported format"
            ).format(
                what=what,
                platform=self.label,
                container=container,
                status=f"{status}: {detail}" if detail else status,
            ),
        )

    def _images(self, part: Part, what: str) -> list[Image]:
        """The part's images with the public URL the platform fetches them from, each checked
        to answer (nothing is created before they all do)."""
        images: list[Image] = []
        for media in part.media:
            url = public_url(self.ctx, media.path)
            if url is None:
                raise Halt(
                    Outcome.RETRY,
                    _(
                        "{what}: {label} fetches images by URL and this channel has none for "
                        "{path}: {help}"
                    ).format(what=what, label=self.label, path=media.path, help=media_url_help()),
                )
            check_media_url(self.ctx, url, self.image_types, f"{what}, {media.path}")
            images.append(Image(media.path, url, media.alt))
        return images

    def _check_files(self, parts: list[Part]) -> None:
        for i, part in enumerate(parts):
            if len(part.media) > self.max_images:
                raise Halt(
                    Outcome.FAILED,
                    _("part {number} has {count} images: {label} takes at most {limit}").format(
                        number=i + 1,
                        count=len(part.media),
                        label=self.label,
                        limit=self.max_images,
                    ),
                )
            for media in part.media:
                info = inspect(self.ctx.root, media.path)
                if info.problem is not None:
                    raise Halt(
                        Outcome.FAILED,
                        _("media {path} {problem}").format(path=media.path, problem=info.problem),
                    )
                if info.mime not in self.image_types:
                    raise Halt(
                        Outcome.FAILED,
                        _("media {path} is {mime}: {label} takes {types} only").format(
                            path=media.path,
                            mime=info.mime or _("of an unknown type"),
                            label=self.label,
                            types=_(" or ").join(self.image_types),
                        ),
                    )

    # -- publishing ---------------------------------------------------------------------------

    def _publish(
        self, container: str, text: str, index: int, what: str, progress: Progress
    ) -> PartResult:
        path = f"{self.user_id}/{self.publish_path}"
        answer = self.graph.post(path, {"creation_id": container})
        if answer.kind == "unknown":
            # No answer, or a 5xx: the container's status says whether it was published.
            status, _ignored = self.graph.container_status(container, self.status_field)
            if status == "PUBLISHED":
                return self._find_published(text, index, what, progress)
            if status != "FINISHED":
                raise self.graph.halt(_("{what}: publishing").format(what=what), answer, sent=True)
            # Still FINISHED, so not published: a container publishes once, so sending it
            # again cannot make a second post.
            answer = self.graph.post(path, {"creation_id": container})
        ident = answer.data.get("id") if answer.ok else None
        if not isinstance(ident, str | int) or not str(ident):
            if answer.ok:
                raise Halt(
                    Outcome.UNKNOWN, _("{what}: published without a media id").format(what=what)
                )
            raise self.graph.halt(
                _("{what}: publishing").format(what=what), answer, sent=answer.kind == "unknown"
            )
        return self._part({"id": str(ident)}, fetch=True)

    def _find_published(self, text: str, index: int, what: str, progress: Progress) -> PartResult:
        look = self._lookup(text, index, progress)
        if look.found is not None:
            return self._part(look.found)
        raise Halt(
            Outcome.UNKNOWN,
            _(
                "{what}: its container is PUBLISHED but the post is not found among the account's "
                "posts ({reason}): check the account"
            ).format(what=what, reason=look.reason),
        )

    def _lookup(self, text: str, index: int, progress: Progress) -> Lookup:
        hashes = progress.handles.get("text_sha256")
        wanted = (
            str(hashes[index])
            if isinstance(hashes, list) and index < len(hashes)
            else text_hash(text)
        )
        since = progress.started_at or datetime.now(UTC)
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return self.graph.find(
            self.list_path(index),
            f"id,{self.text_field},timestamp,permalink",
            self.text_field,
            wanted,
            since,
            pages=self.lookup_pages,
        )

    def _part(self, item: dict[str, Any], fetch: bool = False) -> PartResult:
        ident = str(item["id"])
        url = item.get("permalink")
        if fetch and not url:
            answer = self.graph.get(ident, {"fields": "permalink"})
            url = answer.data.get("permalink") if answer.ok else None
        return PartResult(ident, str(url) if isinstance(url, str) and url else None)

    def _last(self, detail: str) -> Answer:
        last = self.graph.last
        if last is not None and not last.ok:
            return last
        return Answer("unknown", detail or _("status unreadable"))

    @staticmethod
    def _where(index: int, total: int) -> str:
        if total == 1:
            return _("the post")
        return _("part {number} of {total}").format(number=index + 1, total=total)

"""A loopback Telegram Bot API (core.telegram.org/bots/api) for sendMessage and friends.

Methods are called as `/bot{token}/{method}` with GET or POST, parameters in the query
string, a JSON body, a url-encoded form or multipart/form-data (files). Answers are
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": N, "description": "..."}`.
Text is measured in UTF-16 code units after entity parsing (4,096 for messages, 1,024 for
captions); `parse_mode` HTML and MarkdownV2 are checked for the usual mistakes (unsupported
tags, unescaped reserved characters) with Telegram's error wording.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from .base import FakeServer, Fault, Recorded, Response, UploadedFile, json_response, route

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
PHOTO_SIZE_LIMIT = 10 * 1024 * 1024
_HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "code", "pre", "blockquote", "tg-emoji", "tg-time",
}  # fmt: skip
_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!")


class BadRequest(Exception):
    """A 400 answer; the message is the description without the "Bad Request: " prefix."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """The visible text of an HTML-formatted message; BadRequest on a tag Telegram refuses."""
    out: list[str] = []
    pos = 0
    for m in re.finditer(r"<", text):
        if m.start() < pos:
            continue
        tag = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?>").match(text, m.start())
        offset = len(text[: m.start()].encode())
        if tag is None:
            raise BadRequest(f"can't parse entities: Unsupported start tag at byte offset {offset}")
        if tag.group(1).lower() not in _HTML_TAGS:
            kind = "end" if tag.group(0).startswith("</") else "start"
            raise BadRequest(
                f'can\'t parse entities: Unsupported {kind} tag "{tag.group(1)}" '
                f"at byte offset {offset}"
            )
        out.append(text[pos : m.start()])
        pos = tag.end()
    out.append(text[pos:])
    return html.unescape("".join(out))


def parse_markdown_v2(text: str) -> str:
    """The visible text of a MarkdownV2 message; BadRequest on an unescaped reserved char."""
    out: list[str] = []
    open_marks: dict[str, int] = {}
    names = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler"}
    i, n = 0, len(text)
    link_depth = 0
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 < n:
                out.append(text[i + 1])
            i += 2
            continue
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end < 0:
                raise BadRequest(_md_unclosed("Pre", text, i))
            body = text[i + 3 : end]
            body = body.split("\n", 1)[1] if "\n" in body else body  # language line
            out.append(body.replace("\\`", "`").replace("\\\\", "\\"))
            i = end + 3
            continue
        if c == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise BadRequest(_md_unclosed("Code", text, i))
            out.append(text[i + 1 : end].replace("\\\\", "\\"))
            i = end + 1
            continue
        mark = text[i : i + 2] if text[i : i + 2] in ("__", "||") else c
        if mark in names:
            if mark in open_marks:
                del open_marks[mark]
            else:
                open_marks[mark] = i
            i += len(mark)
            continue
        if c == "[":
            link_depth += 1
            i += 1
            continue
        if c == "]" and link_depth:
            link_depth -= 1
            if text.startswith("(", i + 1):
                end = i + 2
                while end < n and text[end] != ")":
                    end += 2 if text[end] == "\\" else 1
                if end >= n:
                    raise BadRequest(_md_unclosed("TextUrl", text, i))
                i = end + 1
            else:
                i += 1
            continue
        if c == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1  # blockquote marker
            continue
        if c in _MD2_RESERVED:
            raise BadRequest(
                f"can't parse entities: Character '{c}' is reserved and must be escaped "
                "with the preceding '\\'"
            )
        out.append(c)
        i += 1
    if open_marks:
        mark, start = min(open_marks.items(), key=lambda kv: kv[1])
        raise BadRequest(_md_unclosed(names[mark], text, start))
    if link_depth:
        raise BadRequest(_md_unclosed("TextUrl", text, text.rfind("[")))
    return "".join(out)


def _md_unclosed(entity: str, text: str, index: int) -> str:
    offset = len(text[:index].encode())
    return f"can't parse entities: Can't find end of {entity} entity at byte offset {offset}"


def visible_text(text: str, parse_mode: str | None) -> str:
    mode = (parse_mode or "").lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return re.sub(r"[*_`\[\]]", "", re.sub(r"\]\([^)]*\)", "", text))
    return text


class FakeTelegram(FakeServer):
    """The Bot API for one bot. `token` (e.g. "123456:ABC-DEF") is the only valid token.

    Known chats: `chat_id` (default -1001234567890, a channel with username @fakechannel)
    plus any added with `add_chat`; other chat ids get 400 "chat not found". `messages`
    lists every message sent; `posts` has one entry per successful send call (an album
    from sendMediaGroup is one entry: {"media_group_id": ..., "messages": [...]}).
    """

    def __init__(self, token: str = "123456:ABC-DEF", chat_id: int = -1001234567890) -> None:
        super().__init__(tokens=[token])
        self.token = token
        self.chat_id = chat_id
        self._chats: dict[str, dict[str, Any]] = {}
        self._chat_messages: dict[int, dict[int, dict[str, Any]]] = {}
        self._messages: list[dict[str, Any]] = []
        self._next_file = 0
        self._next_group = 13_000_000_000_000_000
        self.add_chat(chat_id, "channel", title="Fake Channel", username="fakechannel")

    # -- helpers for tests ----------------------------------------------------------------

    def add_chat(
        self,
        chat_id: int,
        chat_type: str = "supergroup",
        title: str | None = None,
        username: str | None = None,
    ) -> None:
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = title or "Marque"
        else:
            chat["title"] = title or f"Chat {chat_id}"
        if username:
            chat["username"] = username
        with self._lock:
            self._chats[str(chat_id)] = chat
            if username:
                self._chats["@" + username.lower()] = chat
            self._chat_messages.setdefault(chat_id, {})

    @property
    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages)

    def api_url(self, method: str) -> str:
        return f"{self.url}/bot{self.token}/{method}"

    @staticmethod
    def rate_limited_fault(retry_after: int = 5) -> Fault:
        """A 429 as the Bot API sends it (for `inject`)."""
        return Fault.status(
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {retry_after}",
                "parameters": {"retry_after": retry_after},
            },
            {"Retry-After": str(retry_after)},
        )

    # -- plumbing -------------------------------------------------------------------------

    def _error(
        self,
        req: Recorded,
        code: int,
        description: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        body.update(extra)
        if self.echo_secrets:
            body["request"] = self.secret_dump(req)
        return json_response(code, body, headers)

    def not_found(self, req: Recorded, method_not_allowed: bool = False) -> Response:
        return self._error(req, 404, "Not Found")

    @staticmethod
    def _params(req: Recorded) -> dict[str, Any]:
        params: dict[str, Any] = dict(req.query)
        if isinstance(req.json, dict):
            params.update(req.json)
        else:
            params.update(req.form)
        return params

    @staticmethod
    def _object(value: Any, what: str) -> Any:
        """A parameter that is a JSON-serialized object when not sent as JSON."""
        if value is None or not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError as exc:
            raise BadRequest(f"can't parse {what} JSON object") from exc

    @route("*", r"/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)")
    def call(self, req: Recorded, match: re.Match[str]) -> Response:
        if match["token"] not in self.tokens:
            return self._error(req, 401, "Unauthorized")
        state = self.take_rate(f"bot:{match['token']}")
        if state is not None and state.exceeded:
            wait = state.retry_after_int
            return self._error(
                req,
                429,
                f"Too Many Requests: retry after {wait}",
                {"Retry-After": str(wait)},
                parameters={"retry_after": wait},
            )
        handlers = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "sendmediagroup": self._send_media_group,
        }
        handler = handlers.get(match["method"].lower())  # method names are case-insensitive
        if handler is None:
            return self._error(req, 404, "Not Found")
        try:
            params = self._params(req)
            with self._lock:
                result = handler(req, params)
        except BadRequest as exc:
            return self._error(req, 400, f"Bad Request: {exc}")
        return json_response(200, {"ok": True, "result": result})

    def _get_me(self, req: Recorded, params: dict[str, Any]) -> Any:
        return self._bot_user()

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": int(self.token.split(":", 1)[0]) if self.token.split(":")[0].isdigit() else 1,
            "is_bot": True,
            "first_name": "cmflow fake bot",
            "username": "cmflow_fake_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("chat_id")
        if raw is None or str(raw).strip() == "":
            raise BadRequest("chat_id is empty")
        key = str(raw).strip()
        chat = self._chats.get(key.lower() if key.startswith("@") else key)
        if chat is None:
            raise BadRequest("chat not found")
        return chat

    def _reply_to(self, chat: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
        reply = self._object(params.get("reply_parameters"), "reply parameters")
        target: Any = None
        allow_missing = False
        if isinstance(reply, dict):
            target = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id") is not None:
            target = params.get("reply_to_message_id")
            allow_missing = str(params.get("allow_sending_without_reply")).lower() == "true"
        if target is None:
            return None
        try:
            message = self._chat_messages[chat["id"]].get(int(target))
        except (TypeError, ValueError) as exc:
            raise BadRequest("message to be replied not found") from exc
        if message is None:
            if allow_missing:
                return None
            raise BadRequest("message to be replied not found")
        # A replied-to message is included without its own reply_to_message.
        return {k: v for k, v in message.items() if k != "reply_to_message"}

    def _new_message(self, chat: dict[str, Any], **fields: Any) -> dict[str, Any]:
        messages = self._chat_messages[chat["id"]]
        message_id = max(messages, default=0) + 1
        message: dict[str, Any] = {"message_id": message_id}
        if chat["type"] == "channel":
            message["sender_chat"] = chat
        else:
            message["from"] = self._bot_user()
        message.update({"chat": chat, "date": int(self.now())})
        message.update({k: v for k, v in fields.items() if v is not None})
        messages[message_id] = message
        self._messages.append(message)
        return message

    def _caption(self, params: dict[str, Any]) -> str | None:
        caption = params.get("caption")
        if caption is None:
            return None
        visible = visible_text(str(caption), params.get("parse_mode")).strip()
        if utf16_len(visible) > CAPTION_LIMIT:
            raise BadRequest("message caption is too long")
        return visible

    def _photo(self, upload: UploadedFile | None, ref: Any) -> list[dict[str, Any]]:
        if upload is None and not ref:
            raise BadRequest("there is no photo in the request")
        if upload is not None:
            if not upload.data:
                raise BadRequest("file must be non-empty")
            if len(upload.data) > PHOTO_SIZE_LIMIT:
                raise BadRequest("file is too big")
        self._next_file += 1
        size = len(upload.data) if upload is not None else 0
        return [
            {
                "file_id": f"AgACAgQAAxkDAAI{self._next_file:06d}{suffix}",
                "file_unique_id": f"AQAD{self._next_file:06d}{suffix}",
                "file_size": size // ratio,
                "width": width,
                "height": width * 3 // 4,
            }
            for suffix, ratio, width in (("s", 16, 90), ("m", 4, 320), ("x", 1, 1280))
        ]

    def _send_message(self, req: Recorded, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        text = params.get("text")
        visible = visible_text(str(text or ""), params.get("parse_mode")).strip()
        if not visible:
            raise BadRequest("message text is empty")
        if utf16_len(visible) > MESSAGE_LIMIT:
            raise BadRequest("message is too long")
        preview = self._object(params.get("link_preview_options"), "link preview options")
        reply_to = self._reply_to(chat, params)
        message = self._new_message(
            chat, text=visible, reply_to_message=reply_to, link_preview_options=preview
        )
        self.record_post(dict(message))
        return message

    def _send_photo(self, req: Recorded, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        ref = params.get("photo") if "photo" not in req.files else None
        photo = self._photo(req.files.get("photo"), ref)
        caption = self._caption(params)
        reply_to = self._reply_to(chat, params)
        message = self._new_message(chat, photo=photo, caption=caption, reply_to_message=reply_to)
        self.record_post(dict(message))
        return message

    def _send_media_group(self, req: Recorded, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        media = self._object(params.get("media"), "media")
        if media is None:
            raise BadRequest('parameter "media" is required')
        if not isinstance(media, list):
            raise BadRequest("can't parse media JSON object")
        if len(media) > 10:
            raise BadRequest("too much messages to send as an album")
        if len(media) < 2:
            raise BadRequest("media group must contain 2-10 items")  # wording approximated
        reply_to = self._reply_to(chat, params)
        photos: list[tuple[list[dict[str, Any]], str | None]] = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in (
                "photo",
                "video",
                "document",
                "audio",
            ):
                raise BadRequest("can't parse InputMedia: media type is not specified")
            ref = str(item.get("media") or "")
            upload = None
            if ref.startswith("attach://"):
                upload = req.files.get(ref.removeprefix("attach://"))
                if upload is None:
                    raise BadRequest("can't parse InputMedia: media not found")
                ref = ""
            photos.append((self._photo(upload, ref), self._caption(item)))
        self._next_group += 1
        group_id = str(self._next_group)
        messages = [
            self._new_message(
                chat,
                media_group_id=group_id,
                photo=photo,
                caption=caption,
                reply_to_message=reply_to,
            )
            for photo, caption in photos
        ]
        self.record_post({"media_group_id": group_id, "messages": [dict(m) for m in messages]})
        return messages

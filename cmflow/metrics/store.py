"""Metrics history on disk: CSV files under data/metrics/, one per kind and month.

    data/metrics/posts/2026-12.csv        the brand's posts, one row per snapshot
    data/metrics/accounts/2026-12.csv     followers of the brand's and competitors' accounts
    data/metrics/competitors/2026-12.csv  competitors' posts
    data/metrics/site/2026-12.csv         Google Analytics 4 sessions per day and campaign

CSV because spreadsheets open it and git diffs it line by line. Rows are only ever added,
in the file of the month they were collected in, so last month's files never change again
and two branches that both add rows merge with `merge=union` (the `.gitattributes` written
beside them). An empty cell means "the platform does not give this figure" or "the fetch
failed" (see `status`), never zero. Each write goes to a temporary file renamed into place.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cmflow.i18n import _

METRICS_DIR = "metrics"
# The interaction and reach figures cmflow keeps, whatever each platform calls them.
COUNTS = (
    "likes",  # favourites (Mastodon), likes (Bluesky, X, LinkedIn, Meta)
    "reposts",  # reblogs, reposts, retweets
    "replies",  # replies, comments
    "quotes",
    "saves",  # bookmarks (Bluesky, X), saved (Instagram)
    "shares",  # LinkedIn shares, Meta shares
    "clicks",  # link clicks where the platform counts them
    "impressions",  # impressions, or views where the platform replaced them (Meta, 2025)
    "reach",  # unique accounts reached
)
INTERACTIONS = ("likes", "reposts", "replies", "quotes", "saves", "shares", "clicks")

POST_COLUMNS = (
    "collected_at",
    "channel",
    "platform",
    "post",
    "remote_id",
    "url",
    "published_at",
    "age",
    "status",
    *COUNTS,
    "note",
)
ACCOUNT_COLUMNS = (
    "collected_at",
    "kind",  # brand | competitor
    "name",  # the channel, or the competitor's key
    "platform",
    "account",
    "status",
    "followers",
    "following",
    "posts",
    "note",
)
SITE_COLUMNS = (
    "collected_at",
    "date",
    "source",
    "medium",
    "campaign",
    "status",
    "sessions",
    "engaged_sessions",
    "key_events",
    "note",
)
KINDS: Mapping[str, tuple[str, ...]] = {
    "posts": POST_COLUMNS,
    "accounts": ACCOUNT_COLUMNS,
    "competitors": POST_COLUMNS,
    "site": SITE_COLUMNS,
}
GITATTRIBUTES = (
    "# Rows are only ever appended: both sides' rows are kept on merge.\n*.csv merge=union\n"
)

Row = dict[str, str]


def stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(value: str) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def number(value: str | None) -> int | None:
    """A count cell: None when empty or not a number."""
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        try:
            return int(float(value))
        except ValueError:
            return None


@dataclass
class Problem:
    """A row that could not be read (hand edit, merge markers): skipped, and said."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Store:
    root: Path
    data_dir: str = "data"
    problems: list[Problem] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return self.root / self.data_dir / METRICS_DIR

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def files(self, kind: str, since: datetime | None = None) -> list[Path]:
        """The month files of `kind`, oldest first; with `since`, only months that can hold
        rows collected at or after it."""
        folder = self.dir / kind
        if not folder.is_dir():
            return []
        floor = since.astimezone(UTC).strftime("%Y-%m") if since else ""
        out = []
        for path in sorted(folder.glob("*.csv")):
            if path.is_file() and not path.is_symlink() and path.stem >= floor:
                out.append(path)
        return out

    def rows(self, kind: str, since: datetime | None = None) -> Iterator[Row]:
        """Every readable row of `kind` (collected at or after `since` when given)."""
        columns = KINDS[kind]
        for values in self.records(kind, since):
            yield dict(zip(columns, values, strict=True))

    def records(self, kind: str, since: datetime | None = None) -> Iterator[list[str]]:
        """Like `rows`, as lists in the order of `KINDS[kind]` (for reports over years of
        history, where building a dict per row is most of the time)."""
        columns = KINDS[kind]
        floor = stamp(since) if since else ""
        for path in self.files(kind, since):
            try:
                text = path.read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                self.problems.append(
                    Problem(self.rel(path), 1, _("cannot be read ({error})").format(error=exc))
                )
                continue
            reader = csv.reader(io.StringIO(text))
            header: list[str] | None = None
            order: list[int] = []
            same = False
            for values in reader:
                line = reader.line_num
                if not values:
                    continue
                if header is None or values == header:
                    header = values  # a union merge may repeat the header: harmless
                    if "collected_at" not in header:
                        self.problems.append(
                            Problem(self.rel(path), line, _("no header row: not a cmflow file"))
                        )
                        break
                    # Columns a newer cmflow added are dropped; missing ones read as empty.
                    order = [header.index(c) if c in header else -1 for c in columns]
                    same = header == list(columns)
                    continue
                if len(values) != len(header) or values[0].startswith(
                    ("<<<<<<<", "=======", ">>>>>>>")
                ):
                    self.problems.append(
                        Problem(self.rel(path), line, _("malformed row skipped (merge markers?)"))
                    )
                    continue
                out = values if same else [values[k] if k >= 0 else "" for k in order]
                if out[0] < floor:  # collected_at is every kind's first column
                    continue
                yield out

    def append(self, kind: str, rows: Iterable[Row]) -> list[str]:
        """Add rows to the month files of their collection time; returns the files written
        (relative to the root). Atomic per file: a temporary file renamed into place."""
        columns = KINDS[kind]
        by_month: dict[str, list[Row]] = {}
        for row in rows:
            by_month.setdefault(row["collected_at"][:7], []).append(row)
        written: list[str] = []
        for month, items in sorted(by_month.items()):
            path = self.dir / kind / f"{month}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._gitattributes()
            old = path.read_text("utf-8") if path.is_file() else ""
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            if not old:
                writer.writerow(columns)
            elif not old.endswith("\n"):
                buf.write("\n")
            for row in items:
                writer.writerow([row.get(c, "") for c in columns])
            _write_atomic(path, old + buf.getvalue())
            written.append(self.rel(path))
        return written

    def _gitattributes(self) -> None:
        path = self.dir / ".gitattributes"
        if not path.exists():
            _write_atomic(path, GITATTRIBUTES)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

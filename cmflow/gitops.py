"""The one module that speaks git (GitPython, imported lazily)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cmflow.errors import CmflowError, ExitCode
from cmflow.i18n import _, ngettext


def _repo(root: Path):  # type: ignore[no-untyped-def]
    import git

    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise CmflowError(
            _("{folder} is not inside a git repository").format(folder=root)
        ) from None


def changed_files(root: Path, ref: str) -> set[str]:
    """Files changed since `ref` (committed, staged, unstaged, untracked), relative to root."""
    import git

    repo = _repo(root)
    top = Path(repo.working_tree_dir or root).resolve()
    try:
        base = repo.git.merge_base("--end-of-options", ref, "HEAD")
    except git.GitCommandError:
        raise CmflowError(
            _("--changed-since: {ref} is not a git ref here (fetch it first: {command})").format(
                ref=repr(ref), command=f"git fetch origin {ref}"
            )
        ) from None
    # -z everywhere: without it git quotes (and escapes) any name with a non-ASCII byte,
    # a quote, a backslash or a control character, and `content/été.md` would not match
    # the file cmflow reads. `--relative` is left out: paths are taken from the top.
    names = [
        path
        for _, paths in diff_entries(repo.git.diff("--name-status", "-z", "-M", base, "--"))
        for path in paths
    ]
    names += split_z(repo.git.ls_files("-z", "--others", "--exclude-standard", "--full-name"))
    out: set[str] = set()
    base_root = root.resolve()
    for name in names:
        full = (top / name).resolve()
        if full.is_relative_to(base_root):
            out.add(unicodedata.normalize("NFC", full.relative_to(base_root).as_posix()))
            out.add(full.relative_to(base_root).as_posix())
    return out


def added_at(root: Path, rels: list[str]) -> tuple[dict[str, datetime], set[str]]:
    """When each post file reached the checked-out branch: the committer time of the newest
    first-parent commit that added it (a merged pull request's merge commit; a squash or
    rebase merge's own commit). Returns (known times, paths whose time this clone cannot
    tell: it is shallow and the file is older than its history). A path in neither is not
    committed (or there is no repository): `date: next` then counts from now."""
    import git

    known: dict[str, datetime] = {}
    unknown: set[str] = set()
    if not rels:
        return known, unknown
    try:
        repo = _repo(root)
    except CmflowError:
        return known, unknown
    top = Path(repo.working_tree_dir or root).resolve()
    boundary: set[str] = set()
    try:
        if repo.git.rev_parse("--is-shallow-repository").strip() == "true":
            shallow = Path(repo.git.rev_parse("--git-path", "shallow").strip())
            if not shallow.is_absolute():
                shallow = top / shallow
            boundary = set(shallow.read_text(encoding="ascii").split())
    except (git.GitCommandError, OSError):
        # No shallow file to read: a complete history, every commit's date is known.
        boundary = set()
    base = root.resolve()
    wanted: dict[str, str] = {}  # path from the top -> path from root
    for rel in rels:
        try:
            wanted[(base / rel).relative_to(top).as_posix() if base != top else rel] = rel
        except ValueError:  # outside the repository's work tree: not committed here
            continue
    if not wanted:
        return known, unknown
    try:
        # One walk for every path; newest first, so the first add seen is the newest.
        out = repo.git.log(
            "--first-parent",
            "--no-renames",
            "--diff-filter=A",
            "-z",
            "--name-only",
            "--format=%x01%H%x02%ct",
            "--",
            *(f":(literal){path}" for path in sorted(wanted)),
        )
    except git.GitCommandError:
        return known, unknown  # no commit yet (an empty repository)
    for chunk in out.split("\x01")[1:]:
        head, _, names = chunk.partition("\0")
        sha, _, stamp = head.partition("\x02")
        for name in split_z(names.lstrip("\n")):
            mine = wanted.get(name)
            if mine is None or mine in known or mine in unknown:
                continue
            if sha in boundary:
                unknown.add(mine)
            else:
                known[mine] = datetime.fromtimestamp(int(stamp), UTC)
    return known, unknown


def split_z(output: str) -> list[str]:
    """Fields of NUL-separated git output (`-z`), without the empty tail."""
    return [f for f in output.split("\0") if f]


def diff_entries(output: str) -> list[tuple[str, list[str]]]:
    """`git diff --name-status -z` as (status, paths): one path, or the old and the new one
    for a rename or a copy (`R100\0old\0new\0`)."""
    fields = output.split("\0")
    out: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i]
        n = 2 if status[:1] in ("R", "C") else 1
        out.append((status, fields[i + 1 : i + 1 + n]))
        i += 1 + n
    return out


def status_entries(output: str) -> list[tuple[str, str]]:
    """`git status --porcelain=v1 -z` as (XY, path); for a rename, the new path (the old
    one follows it as a field of its own, which is skipped)."""
    fields = output.split("\0")
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(fields) and fields[i]:
        entry = fields[i]
        xy, path = entry[:2], entry[3:]
        out.append((xy, path))
        i += 2 if "R" in xy or "C" in xy else 1
    return out


class PushFailed(CmflowError):
    """Raised when the record could not be pushed after every retry."""

    exit_code = ExitCode.FINDINGS


class RecordRepo:
    """Commits record files and pushes them, retrying when the remote moved.

    A push is also the lock between two runs: whoever pushes a claim first owns the pair.
    When a push is rejected (`fetch first`, `non-fast-forward`, `cannot lock ref`), the
    branch is moved onto the remote's tip and the files the remote changed meanwhile are
    taken from it; `on_conflict` decides what to do with our files the remote also changed
    (drop a claim, or rewrite a result), then the commit is made again and pushed.
    """

    def __init__(
        self, root: Path, remote: str = "origin", branch: str | None = None, backoff: float = 0.1
    ) -> None:
        import git

        self.root = root
        self.repo = _repo(root)
        self.top = Path(self.repo.working_tree_dir or root).resolve()
        self.remote = remote
        self.backoff = backoff  # seconds before the first retry, doubling, with jitter
        try:
            self.branch = branch or self.repo.active_branch.name
        except TypeError:
            raise CmflowError(_("--commit needs a branch checked out (HEAD is detached)")) from None
        if remote not in [r.name for r in self.repo.remotes]:
            raise CmflowError(
                _("--commit: this repository has no remote named {remote}").format(
                    remote=repr(remote)
                )
            )
        self._git = git
        try:
            self.repo.git.config("user.email")
        except git.GitCommandError:  # CI runners have no identity: commit as cmflow
            self.repo.git.update_environment(
                GIT_AUTHOR_NAME="cmflow",
                GIT_AUTHOR_EMAIL="cmflow@users.noreply.github.com",
                GIT_COMMITTER_NAME="cmflow",
                GIT_COMMITTER_EMAIL="cmflow@users.noreply.github.com",
            )

    def _rel(self, path: str) -> str:
        """A root-relative path as a path relative to the git top folder."""
        return (self.root.resolve() / path).relative_to(self.top).as_posix()

    def ensure_clean(self, allowed: list[str]) -> None:
        """Refuse to run when files other than cmflow's outputs have uncommitted changes."""
        keep = [self._rel(a).rstrip("/") + "/" for a in allowed]
        out = self.repo.git.status("--porcelain=v1", "-z", "--untracked-files=no")
        dirty = [
            path for _, path in status_entries(out) if not any(path.startswith(k) for k in keep)
        ]
        if dirty:
            raise CmflowError(
                _(
                    "--commit needs a clean checkout, but these files have uncommitted changes: "
                    "{files}: commit or stash them first"
                ).format(files=", ".join(dirty[:5]))
            )

    def changed(self, paths: list[str]) -> list[str]:
        """Uncommitted (modified or new) files under `paths`, relative to the root."""
        rels = [self._rel(p) for p in paths if (self.root / p).exists()]
        if not rels:
            return []
        out = self.repo.git.status("--porcelain=v1", "-z", "--untracked-files=all", "--", *rels)
        root = self.root.resolve()
        files = []
        for _status, name in status_entries(out):
            full = (self.top / name).resolve()
            if full.is_relative_to(root) and full.exists():
                files.append(full.relative_to(root).as_posix())
        return files

    def undo_last_commit(self) -> None:
        """Drop the last local commit if it was not pushed (its files stay in the work tree)."""
        if self._ahead():
            self.repo.git.reset("--mixed", "HEAD~1")

    def sync(self) -> None:
        """Fast-forward to the remote branch, to plan against the latest record."""
        try:
            self.repo.git.fetch(self.remote, self.branch)
        except self._git.GitCommandError as exc:
            raise CmflowError(
                _("{command} failed: {reason}").format(
                    command=f"git fetch {self.remote} {self.branch}", reason=_git_reason(exc)
                )
            ) from None
        ahead = self.repo.git.rev_list("--count", f"{self.remote}/{self.branch}..HEAD")
        if ahead.strip() != "0":
            n = int(ahead.strip())
            raise CmflowError(
                ngettext(
                    "the local branch has {n} commit not on {branch}: push it first",
                    "the local branch has {n} commits not on {branch}: push them first",
                    n,
                ).format(n=n, branch=f"{self.remote}/{self.branch}")
            )
        try:
            self.repo.git.merge("--ff-only", f"{self.remote}/{self.branch}")
        except self._git.GitCommandError as exc:
            raise CmflowError(
                _(
                    "cannot fast-forward to {branch} ({reason}): uncommitted record files clash "
                    "with the remote's; commit or discard them"
                ).format(branch=f"{self.remote}/{self.branch}", reason=_git_reason(exc))
            ) from None

    def commit_and_push(
        self,
        files: list[str],
        message: str,
        on_conflict: Callable[[set[str]], list[str]],
        attempts: int = 6,
    ) -> set[str]:
        """Commit `files` (root-relative) and push. Returns the files dropped by `on_conflict`."""
        import random
        import time

        dropped: set[str] = set()
        files = list(dict.fromkeys(files))
        for attempt in range(attempts):
            base = self.repo.head.commit.hexsha
            if files:
                self.repo.git.add("--", *[self._rel(f) for f in files])
            if self.repo.git.diff("--cached", "--name-only", "-z").strip("\0"):
                self.repo.git.commit("-m", message, "--no-verify")
            elif self.repo.head.commit.hexsha == base and not self._ahead():
                return dropped
            try:
                self.repo.git.push(self.remote, f"HEAD:refs/heads/{self.branch}")
                return dropped
            except self._git.GitCommandError as exc:
                last = _git_reason(exc)
            time.sleep(min(2.0, self.backoff * (2**attempt)) * (0.5 + random.random()))
            try:
                self.repo.git.fetch(self.remote, self.branch)
            except self._git.GitCommandError as exc:
                last = _git_reason(exc)
                continue
            remote_ref = f"{self.remote}/{self.branch}"
            merge_base = self.repo.git.merge_base("HEAD", remote_ref).strip()
            theirs = set(
                split_z(
                    self.repo.git.diff("--name-only", "-z", "--no-renames", merge_base, remote_ref)
                )
            )
            ours_top = {self._rel(f): f for f in files}
            # Move onto the remote tip, keeping our files in the work tree.
            self.repo.git.reset("--mixed", remote_ref)
            if theirs:
                existing = [t for t in theirs if self._exists(remote_ref, t)]
                gone = [t for t in theirs if t not in existing]
                if existing:
                    self.repo.git.checkout(remote_ref, "--", *existing)
                for t in gone:
                    (self.top / t).unlink(missing_ok=True)
            clashes = {ours_top[t] for t in theirs if t in ours_top}
            if clashes:
                keep = on_conflict(clashes)
                dropped |= clashes - set(keep)
            files = [f for f in files if f not in dropped]
        raise PushFailed(
            _(
                "could not push the record to {branch} after {attempts} attempts ({reason}). "
                "Nothing published is lost: the next run reconciles instead of reposting."
            ).format(branch=f"{self.remote}/{self.branch}", attempts=attempts, reason=last)
        )

    def _ahead(self) -> bool:
        try:
            out = self.repo.git.rev_list("--count", f"{self.remote}/{self.branch}..HEAD")
        except self._git.GitCommandError:
            return True
        return str(out).strip() != "0"

    def _exists(self, ref: str, path: str) -> bool:
        try:
            self.repo.git.cat_file("-e", f"{ref}:{path}")
            return True
        except self._git.GitCommandError:
            return False


def _git_reason(exc: Exception) -> str:
    stderr = str(getattr(exc, "stderr", "") or exc)
    lines = [ln.strip(" '\"") for ln in stderr.splitlines() if ln.strip(" '\"")]
    picked = [
        ln for ln in lines if any(w in ln for w in ("rejected", "error", "fatal", "lock", "denied"))
    ]
    text = "; ".join(picked[:3] or lines[-2:])
    return text.replace("stderr: ", "")[:300]

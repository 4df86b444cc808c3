"""The one module that speaks git (GitPython, imported lazily)."""

from __future__ import annotations

from pathlib import Path

from cmflow.errors import CmflowError


def _repo(root: Path):  # type: ignore[no-untyped-def]
    import git

    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise CmflowError(f"{root} is not inside a git repository") from None


def changed_files(root: Path, ref: str) -> set[str]:
    """Files changed since `ref` (committed, staged, unstaged, untracked), relative to root."""
    import git

    repo = _repo(root)
    top = Path(repo.working_tree_dir or root).resolve()
    try:
        base = repo.git.merge_base(ref, "HEAD")
        names = repo.git.diff("--name-only", "--no-renames", base).splitlines()
    except git.GitCommandError:
        raise CmflowError(
            f"--changed-since: {ref!r} is not a git ref here (fetch it first: git fetch origin {ref})"
        ) from None
    names += repo.untracked_files
    out: set[str] = set()
    for name in names:
        full = (top / name).resolve()
        if full.is_relative_to(root.resolve()):
            out.add(full.relative_to(root.resolve()).as_posix())
    return out

"""Files inside the repository, read and written without ever following a link out of it.

A repository is written by whoever gets a pull request merged, and the publish job runs with
every channel's secrets: a post or a media file that is a symbolic link to `.git/config`
(where `actions/checkout` keeps the job's token), a named pipe that blocks a read forever, or
an output folder that is a link to somewhere else must never be read, published or written
through. So:

- `open_regular` resolves a path (links included), requires the result to be inside the
  repository and outside any `.git`, then opens it again component by component from the
  repository's folder with `O_NOFOLLOW`, so that a link swapped in after the check fails
  instead of being followed; the opened file must be a regular file (checked with `lstat`
  before opening and `fstat` after, and opened `O_NONBLOCK` so a FIFO never blocks).
- `write_atomic` writes below the repository only through real folders: every component is
  opened `O_NOFOLLOW | O_DIRECTORY`, the file is written to a fresh temporary file
  (`O_CREAT | O_EXCL | O_NOFOLLOW`) and renamed over the target.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path, PurePosixPath

from cmflow.i18n import _

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePath(Exception):
    """A path cmflow refuses to read or write; `str()` says why and what to do, without the
    path (callers name it their own way: a finding's location, a channel's output folder)."""


class Outside(UnsafePath):
    """The path resolves outside the repository."""


class UnsafeWrite(UnsafePath):
    """A write refused because a component of the target is a link or not a folder;
    `shown` is that component, relative to the repository."""

    def __init__(self, shown: str, message: str) -> None:
        super().__init__(f"{shown} {message}")
        self.shown = shown


def is_git_name(name: str) -> bool:
    """`.git` in any case (case-insensitive file systems open `.GIT` as `.git`)."""
    return name.casefold() == ".git"


def kind(mode: int) -> str:
    """What a non-regular file is, in plain words."""
    if stat.S_ISDIR(mode):
        return _("is a folder, not a file")
    if stat.S_ISFIFO(mode):
        return _("is a named pipe (FIFO), not a file")
    if stat.S_ISSOCK(mode):
        return _("is a socket, not a file")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return _("is a device, not a file")
    if stat.S_ISLNK(mode):
        return _("is a symbolic link")
    return _("is not a regular file")


def inside_parts(root: Path, rel: str) -> tuple[str, tuple[str, ...]]:
    """(the repository's real path, the components of `rel`'s real path below it).

    Raises UnsafePath when `rel` resolves outside the repository or into a `.git`.
    """
    if "\x00" in rel:
        raise UnsafePath(_("contains a NUL character: write the file name without it"))
    real_root = os.path.realpath(root)
    try:
        real = os.path.realpath(os.path.join(real_root, rel))
    except (OSError, ValueError) as exc:  # a name too long, say
        raise UnsafePath(_("cannot be resolved ({reason})").format(reason=exc)) from None
    if real != real_root and os.path.commonpath([real_root, real]) != real_root:
        raise Outside(
            _(
                "leaves the repository (through a symbolic link or `..`): "
                "copy the file into the repository instead"
            )
        )
    parts = PurePosixPath(real).relative_to(real_root).parts if real != real_root else ()
    if any(is_git_name(p) for p in parts):
        raise UnsafePath(
            _(
                "leads into git's own folder (.git), which holds the job's credentials: "
                "point to a file of the repository instead"
            )
        )
    return real_root, parts


def open_regular(root: Path, rel: str) -> int:
    """A read-only descriptor on the regular file `rel` of the repository (see the module
    docstring). The caller closes it. Raises UnsafePath with the reason."""
    fd = _open_plain(root, rel)
    if fd is not None:
        return fd
    real_root, parts = inside_parts(root, rel)
    if not parts:
        raise UnsafePath(_("is the repository's folder, not a file"))
    dfd = os.open(real_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in parts[:-1]:
            nfd = os.open(name, DIR_FLAGS, dir_fd=dfd)
            os.close(dfd)
            dfd = nfd
        before = os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
        if not stat.S_ISREG(before.st_mode):
            raise UnsafePath(_unusable(before.st_mode))
        fd = os.open(parts[-1], READ_FLAGS, dir_fd=dfd)
    except FileNotFoundError:
        raise UnsafePath(_("does not exist")) from None
    except OSError as exc:
        raise UnsafePath(_open_reason(exc)) from None
    finally:
        os.close(dfd)
    after = os.fstat(fd)
    if not stat.S_ISREG(after.st_mode):  # replaced between the lstat and the open
        os.close(fd)
        raise UnsafePath(_unusable(after.st_mode))
    return fd


def _open_plain(root: Path, rel: str) -> int | None:
    """The common case of `open_regular`, without resolving anything: `rel` made of plain
    names (no `..`, no `.git`), each folder opened from the repository's with O_NOFOLLOW,
    the file too, and found regular (`Folders.open`, for one file). None on any failure (a
    link on the way, a missing or odd file): `open_regular` then resolves the path and says
    precisely what is wrong. Resolving costs more than reading a post."""
    with Folders(root) as folders:
        got = folders.open(rel)
    return got[0] if got is not None else None


class Folders:
    """`open_regular`'s common case for files of one repository: a file is opened only
    through plain folder names (no `..`, no `.git`), each folder opened from the
    repository's down with `O_NOFOLLOW | O_DIRECTORY`, and only when it is a regular file.
    For many files read in a row (a queue's posts), the folder holding a file is kept open
    for the next file in it, instead of every folder on the way being opened again for each
    file. A folder kept open stays the one opened, even if a link is swapped in for it
    since: nothing is ever read through a link. Only the repository's folder and those
    holding files are kept (no more than an eighth of what the process may open, at most
    `_MOST`); the folders between are closed once passed. Close it (or use it in a `with`)
    when done."""

    _MOST = 64  # folders kept open at once: a queue's year/month folders

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self._root_fd = -1
        self._open: dict[str, int] = {}  # folder (relative, posix) -> its descriptor
        self._most = 0  # worked out when the first folder is kept (`_kept_at_most`)
        self._real: str | None = None

    def real(self, rel: str) -> Path:
        """The real path of `rel` after `open` opened it: no link on the way, so the
        repository's real path and `rel` below it."""
        if self._real is None:
            self._real = os.path.realpath(self.root)
        return Path(self._real, rel)

    def open(self, rel: str) -> tuple[int, os.stat_result] | None:
        """A descriptor on the regular file `rel` and its `fstat`, or None on any failure
        (`open_regular` then resolves the path and says what is wrong)."""
        folder, _sep, name = rel.rpartition("/")
        if rel[:1] == "/" or not _plain_name(name):
            return None
        dfd = self._folder(folder)
        return _regular_in(dfd, name) if dfd is not None else None

    def stat(self, rel: str) -> os.stat_result | None:
        """The stat of `rel` itself (a link's own, not its target's), reached through plain
        folders only; None when it cannot be so (a link on the way, a name `open` refuses)
        or is missing."""
        folder, _sep, name = rel.rpartition("/")
        if rel[:1] == "/" or not _plain_name(name):
            return None
        dfd = self._folder(folder)
        if dfd is None:
            return None
        try:
            return os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except (OSError, ValueError):
            return None

    def _folder(self, folder: str) -> int | None:
        """The descriptor of `folder` ("": the repository's), opened and kept if need be;
        None when it cannot be (then the caller takes the long way)."""
        fd = self._open.get(folder)
        if fd is not None:
            return fd
        if self._root_fd < 0:
            try:
                self._root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except (OSError, ValueError):
                return None
        if not folder:
            return self._root_fd
        names = folder.split("/")
        if not all(map(_plain_name, names)):
            return None
        if not self._most:
            self._most = _kept_at_most(self._MOST)
        if len(self._open) >= self._most:
            self.close(keep_root=True)
        # Down from the repository's folder, one level at a time (a loop: a path may have
        # thousands of components), each folder between closed once the next is open.
        dfd = self._root_fd
        try:
            for name in names:
                nfd = os.open(name, DIR_FLAGS, dir_fd=dfd)
                if dfd != self._root_fd:
                    os.close(dfd)
                dfd = nfd
        except (OSError, ValueError):
            if dfd != self._root_fd:
                os.close(dfd)
            return None
        self._open[folder] = dfd
        return dfd

    def close(self, keep_root: bool = False) -> None:
        """Close every folder kept open (but the repository's, with `keep_root`)."""
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()
        if self._root_fd >= 0 and not keep_root:
            os.close(self._root_fd)
            self._root_fd = -1

    def __enter__(self) -> Folders:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _regular_in(dfd: int, name: str) -> tuple[int, os.stat_result] | None:
    """The regular file `name` of the folder open as `dfd`, opened read-only (never
    through a link), and its `fstat`; None for anything else (a link, a folder, a FIFO, a
    device, a missing file). Never opened unless regular (a device may act on open), and
    checked again after (it may have been replaced in between)."""
    try:
        if not stat.S_ISREG(os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode):
            return None
        fd = os.open(name, READ_FLAGS, dir_fd=dfd)
    except (OSError, ValueError):
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd, st


def _kept_at_most(most: int) -> int:
    """How many folders `Folders` keeps open: `most`, or an eighth of the process's limit
    on open files when that is lower (a runner with `ulimit -n 50` keeps 6)."""
    try:
        soft = os.sysconf("SC_OPEN_MAX")  # RLIMIT_NOFILE's soft limit; -1: none
    except (AttributeError, ValueError, OSError):  # no such name here
        return most
    return most if soft < 0 else max(1, min(most, soft // 8))


def _plain_name(name: str) -> bool:
    """A folder or file name opened as it is: not empty, `.`, `..` or `.git`, no NUL."""
    return name not in ("", ".", "..") and "\x00" not in name and not is_git_name(name)


def read_regular(root: Path, rel: str, limit: int | None = None) -> bytes:
    """The bytes of the regular file `rel` (at most `limit` + 1 when a limit is given, so a
    caller can tell "over the limit"). Raises UnsafePath."""
    fd = open_regular(root, rel)
    try:
        return read_fd(fd, limit)
    except OSError as exc:
        raise UnsafePath(_("cannot be read ({reason})").format(reason=exc.strerror)) from None
    finally:
        os.close(fd)


class NotRegular(Exception):
    """`read_capped` opened something other than a regular file; `mode` says what."""

    def __init__(self, mode: int) -> None:
        super().__init__(mode)
        self.mode = mode


class TooLarge(Exception):
    """`read_capped` found a file over its limit (`size` bytes), and read none of it."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def read_capped(name: str, limit: int, dir_fd: int | None = None) -> bytes:
    """The bytes of the regular file `name` (in the folder open as `dir_fd`, else a path),
    never through a link as its last component (OSError ELOOP), never waiting on a pipe or
    more than `limit` bytes (`/dev/zero`): raises NotRegular or TooLarge, OSError when the
    system refuses. Made for many small files read in a row (a years-old publish record
    holds tens of thousands): one open, one fstat, and one read when the file holds what
    the fstat said (the usual case), instead of reading until a read returns nothing."""
    fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(st.st_mode)
        size = st.st_size
        if size > limit:
            raise TooLarge(size)
        data = os.read(fd, size + 1)
        if len(data) != size:  # changed since the fstat (or a short read): on to its end
            data += read_fd(fd, limit - len(data))
        return data
    finally:
        os.close(fd)


def read_fd(fd: int, limit: int | None) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while limit is None or total <= limit:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _unresolved() -> str:
    return _(
        "is a symbolic link that cannot be resolved (a loop, or it changed while being "
        "read): replace it with a real file"
    )


def _unusable(mode: int) -> str:
    if stat.S_ISLNK(mode):  # realpath leaves a link in place only when it loops
        return _unresolved()
    return _("{what}: replace it with a real file").format(what=kind(mode))


def _open_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return _unresolved()
    if exc.errno == errno.ENOTDIR:
        return _("does not exist (a folder on its way is a file)")
    return _("cannot be read ({reason})").format(reason=exc.strerror)


# -- writing ------------------------------------------------------------------------------------


def _plain_parts(rel: PurePosixPath) -> tuple[str, ...]:
    parts = rel.parts
    if rel.is_absolute() or not parts or any(p in ("", ".", "..") for p in parts):
        raise UnsafePath(_("{path} is not a plain path below the repository").format(path=rel))
    return parts


def _open_dir(dfd: int, name: str, shown: str, create: bool) -> int:
    """Open (or create) the real folder `name` in `dfd`; never through a link."""
    for _attempt in range(2):
        try:
            return os.open(name, DIR_FLAGS, dir_fd=dfd)
        except FileNotFoundError:
            if not create:
                raise
            # Made by someone else meanwhile: open it (and check it) again.
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=dfd)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise UnsafeWrite(
                    shown,
                    _(
                        "is a symbolic link: cmflow never writes through links; "
                        "replace it with a real folder"
                    ),
                ) from None
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), shown) from None
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), shown)


def _open_parent(root: Path, parts: tuple[str, ...], create: bool) -> int:
    dfd = os.open(os.path.realpath(root), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for i, name in enumerate(parts[:-1]):
            shown = "/".join(parts[: i + 1])
            try:
                nfd = _open_dir(dfd, name, shown, create)
            except UnsafePath:
                raise
            except OSError as exc:
                raise type(exc)(exc.errno, exc.strerror, str(root / shown)) from None
            os.close(dfd)
            dfd = nfd
    except BaseException:
        os.close(dfd)
        raise
    return dfd


def read_file(root: Path, rel: PurePosixPath) -> bytes | None:
    """The bytes of `rel` below the repository, reached through real folders only; None when
    it (or a folder on the way) does not exist or a folder on the way is a file.
    Raises UnsafeWrite on a link, OSError otherwise."""
    parts = _plain_parts(rel)
    try:
        dfd = _open_parent(root, parts, create=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        return _read_existing(dfd, parts[-1], rel.as_posix())
    finally:
        os.close(dfd)


def _read_existing(dfd: int, name: str, shown: str) -> bytes | None:
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeWrite(
            shown, _("is a symbolic link: cmflow never writes through links; remove it")
        )
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeWrite(shown, _("{what}: remove it").format(what=kind(st.st_mode)))
    fd = os.open(name, READ_FLAGS, dir_fd=dfd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeWrite(shown, _("changed while being read: run again"))
        return read_fd(fd, None)
    finally:
        os.close(fd)


def write_atomic(root: Path, rel: PurePosixPath, data: bytes, mode: int = 0o644) -> bool:
    """Write `data` to `rel` below the repository (folders created as needed), atomically,
    and only when the bytes differ; True when the file was (re)written.

    Raises UnsafeWrite when a component is a link (or the target is not a regular file), and
    OSError (with the repository-relative path as its filename) when the system refuses.
    """
    parts = _plain_parts(rel)
    shown = rel.as_posix()
    dfd = _open_parent(root, parts, create=True)
    name = parts[-1]
    try:
        if _read_existing(dfd, name, shown) == data:
            return False
        import secrets  # here: reading (validate) never needs it

        tmp = f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, _TEMP_FLAGS, mode, dir_fd=dfd)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(root.joinpath(*parts[:-1]))) from None
        try:
            try:
                os.fchmod(fd, mode)  # whatever the umask: web servers must read it
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
            if isinstance(exc, OSError) and not isinstance(exc, UnsafePath):
                raise OSError(exc.errno, exc.strerror, str(root / shown)) from None
            raise
        return True
    finally:
        os.close(dfd)

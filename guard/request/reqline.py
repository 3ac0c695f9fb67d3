"""One requirement string -> a ``ReqItem``, as pip's ``req/constructors.py`` reads it.

A string is a local path only if it looks like one (contains ``/`` or starts with ``.``) and is a
directory, or ends like an archive; a relative path INSIDE a requirements file is resolved
against the current directory, not the file's directory (pip's rule; only nested ``-r``/``-c``
and ``-f`` paths are file-relative). The only I/O is ``os.path`` checks on local paths, which is
how pip itself tells a path from a name.
"""

from __future__ import annotations

import os
import posixpath
import re
import urllib.parse

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from guard.errors import RequirementsFileError, UsageError
from guard.request.model import ReqItem

_VCS_NAMES = ("bzr", "git", "hg", "svn")
_VCS_SCHEMES = frozenset(
    "bzr+http bzr+https bzr+ssh bzr+sftp bzr+ftp bzr+lp bzr+file "
    "git+http git+https git+ssh git+git git+file "
    "hg+file hg+http hg+https hg+ssh hg+static-http "
    "svn+ssh svn+http svn+https svn+svn svn+file".split()
)
_ARCHIVE_EXTENSIONS = (
    ".zip",
    ".whl",
    ".tar.bz2",
    ".tbz",
    ".tar.gz",
    ".tgz",
    ".tar",
    ".tar.xz",
    ".txz",
    ".tlz",
    ".tar.lz",
    ".tar.lzma",
)
_OPERATORS = ("~=", "==", "!=", "<=", ">=", "<", ">", "===")
_EGG_RE = re.compile(r"[#&]egg=([^&]*)")
_PROJECT_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


def _scheme(text: str) -> str:
    try:
        return urllib.parse.urlsplit(text).scheme
    except ValueError:
        return ""


def _is_url(text: str) -> bool:
    scheme = _scheme(text)
    return bool(scheme) and (scheme in ("http", "https", "file", "ftp") or scheme in _VCS_SCHEMES)


def is_remote_or_file_url(text: str) -> bool:
    return text.lower().startswith(("http:", "https:", "file:"))


def is_pylock_name(filename: str) -> bool:
    if is_remote_or_file_url(filename):
        try:
            filename = urllib.parse.urlsplit(filename).path.rpartition("/")[-1]
        except ValueError:
            return False
    name = os.path.basename(filename)
    return name == "pylock.toml" or bool(re.match(r"^pylock\.([^.]+)\.toml$", name))


def local_or_url(value: str, cwd: str) -> str:
    """A find-links entry: URLs unchanged, local paths absolute (``~`` expanded if it exists)."""
    if _scheme(value) and len(_scheme(value)) > 1:
        return value
    if value.startswith("~"):
        expanded = os.path.expanduser(value)
        if os.path.exists(expanded):
            value = expanded
    return os.path.normpath(os.path.join(cwd, value))


def _path_to_url(path: str) -> str:
    from urllib.request import pathname2url  # lazily: urllib.request costs ~10 ms to import

    return urllib.parse.urljoin("file://", pathname2url(os.path.normpath(path)))


def url_to_path(url: str) -> str:
    _, netloc, path, _, _ = urllib.parse.urlsplit(url)
    if netloc and netloc != "localhost":
        raise UsageError(f"non-local file URIs are not supported on this platform: {url!r}")
    from urllib.request import url2pathname

    return url2pathname(path)


def _url_filename(url: str) -> str:
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return posixpath.basename(path.rstrip("/"))


def _splitext(name: str) -> tuple[str, str]:
    base, ext = posixpath.splitext(name)
    if base.lower().endswith(".tar"):
        ext = base[-4:] + ext
        base = base[:-4]
    return base, ext


def _is_archive(name: str) -> bool:
    return _splitext(name)[1].lower() in _ARCHIVE_EXTENSIONS


def _looks_like_path(name: str) -> bool:
    return os.path.sep in name or (os.path.altsep is not None and os.path.altsep in name) or name.startswith(".")


def _is_installable_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyproject.toml")) or os.path.isfile(os.path.join(path, "setup.py"))


def strip_extras_text(path: str) -> tuple[str, str | None]:
    match = re.match(r"^(.+)(\[[^\]]+\])$", path)
    if match:
        return match.group(1).rstrip(), match.group(2)
    return path, None


def _egg_name(url: str, where: str) -> str | None:
    match = _EGG_RE.search(url)
    if not match:
        return None
    name = match.group(1)
    if not _PROJECT_NAME_RE.match(name):
        hint = ""
        if any(c in name for c in "<>="):
            hint = "Version specifiers are silently ignored for URL references. Remove them. "
        if "[" in name and "]" in name:
            hint += "Try using the Direct URL requirement syntax: 'name[extra] @ URL'"
        raise UsageError(
            f"{where}The '{name}' egg fragment is invalid ({hint or 'Egg fragments can only be a valid project name.'})"
        )
    return name


def _error_prefix(origin: str) -> str:
    return "" if origin == "command line" else f"{origin}: "


def _error(origin: str, message: str) -> UsageError:
    cls = UsageError if origin == "command line" else RequirementsFileError
    return cls(_error_prefix(origin) + message)


def _requirement_or_error(text: str, origin: str, cwd: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        if os.path.sep in text:
            hint = "It looks like a path." + _path_hint(text, cwd)
        elif "=" in text and not any(op in text for op in _OPERATORS):
            hint = "= is not a valid operator. Did you mean == ?"
        else:
            hint = ""
        detail = f"{reason}; hint: {hint}" if hint else reason
        raise _error(origin, f"invalid requirement: {text!r} ({detail})") from None


def _path_hint(text: str, cwd: str) -> str:
    path = os.path.join(cwd, text)
    if not os.path.exists(path):
        return f" File '{text}' does not exist."
    message = " The path does exist. "
    try:
        with open(path, encoding="utf-8", errors="ignore") as f:
            lines = [s for s in (raw.strip() for raw in f) if s and not s.startswith("#")]
        if lines:
            first = lines[0]
            if " #" in first:
                first = first[: first.find(" #")]
            if first.endswith("\\") and len(lines) > 1:
                first = first[:-2].strip() + lines[1]
            Requirement(first)
            message += (
                f"The argument you provided ({text}) appears to be a requirements file. If that "
                "is the case, use the '-r' flag to install the packages specified within it."
            )
    except (OSError, InvalidRequirement):
        pass
    return message


def _kind_of_url(url: str) -> str:
    scheme = _scheme(url)
    if scheme in _VCS_SCHEMES:
        return "vcs"
    if scheme == "file":
        return "path"
    return "url"


def parse_requirement_line(
    text: str, origin: str, cwd: str, *, line_source: str | None, hashes: tuple[str, ...] = ()
) -> ReqItem:
    """pip's ``parse_req_from_line``: a requirement specifier, a URL or a local path."""
    name = text
    marker_text: str | None = None
    sep = "; " if _is_url(name) else ";"
    if sep in name:
        name, marker_part = name.split(sep, 1)
        marker_part = marker_part.strip()
        if marker_part:
            try:
                marker_text = str(Marker(marker_part))
            except InvalidMarker as exc:
                reason = str(exc).splitlines()[0]
                raise _error(origin, f"invalid requirement: {name.strip()!r} ({reason})") from None
    name = name.strip()
    path = os.path.normpath(os.path.join(cwd, name))
    url: str | None = None
    extras: frozenset[str] = frozenset()
    if _is_url(name):
        url = name
    else:
        local, extras_text = strip_extras_text(path)
        if extras_text:
            try:
                extras = frozenset(Requirement("placeholder" + extras_text.lower()).extras)
            except InvalidRequirement as exc:
                raise _error(origin, f"invalid requirement: {name!r} ({str(exc).splitlines()[0]})") from None
        url = _url_from_path(local, name, origin)

    requirement: Requirement | None
    if url is not None:
        if _scheme(url) == "file" and re.search(r"\.\./", url):
            url = _path_to_url(os.path.join(cwd, urllib.parse.unquote(urllib.parse.urlsplit(url).path)))
        filename = _url_filename(url)
        req_text: str | None
        if _splitext(filename)[1] == ".whl":
            try:
                wheel_name, version, _, _ = parse_wheel_filename(filename)
            except InvalidWheelFilename as exc:
                raise _error(origin, f"invalid wheel filename: {filename!r} ({exc})") from None
            req_text = f"{wheel_name}=={version}"
        else:
            req_text = _egg_name(url, _error_prefix(origin))
        requirement = _requirement_or_error(req_text, origin, cwd) if req_text else None
        kind = _kind_of_url(url)
    else:
        requirement = _requirement_or_error(name, origin, cwd)
        if requirement.url:
            url = requirement.url
            kind = "vcs" if _scheme(url) in _VCS_SCHEMES else "named"
        else:
            kind = "named"
    if requirement is not None:
        if extras:
            requirement.extras = set(extras)
        if marker_text is not None:
            requirement.marker = Marker(marker_text)
        extras = frozenset(requirement.extras)
        marker_text = str(requirement.marker) if requirement.marker else None
    return ReqItem(
        text=text.strip(),
        origin=origin,
        kind=kind,
        requirement=requirement,
        url=url,
        path=url_to_path(url) if url and _scheme(url) == "file" else None,
        hashes=hashes,
        extras=extras,
        marker=marker_text,
    )


def _url_from_path(path: str, name: str, origin: str) -> str | None:
    """pip's ``_get_url_from_path``: a path only if it looks like one and is a directory, or it
    names an archive (existing, or not but without a PEP 508 ``name @`` in front)."""
    if _looks_like_path(name) and os.path.isdir(path):
        if _is_installable_dir(path):
            return _path_to_url(path)
        raise _error(origin, f"Directory {name!r} is not installable. Neither 'setup.py' nor 'pyproject.toml' found.")
    if not _is_archive(path):
        return None
    if os.path.isfile(path):
        return _path_to_url(path)
    before_at = name.split("@", 1)
    if len(before_at) >= 2 and not _looks_like_path(before_at[0]):
        return None  # `name @ something.whl`: a PEP 508 direct reference
    return _path_to_url(path)  # pip warns that the file does not exist, and goes on


def parse_editable(text: str, origin: str, cwd: str) -> ReqItem:
    """pip's ``parse_editable``: a local project path (with extras) or a VCS URL with a name."""
    name: str | None = None
    extras: frozenset[str] = frozenset()
    url: str | None = None
    try:
        direct = Requirement(text)
    except InvalidRequirement:
        direct = None
    if direct is not None and direct.url:
        name = direct.name + (f" ; {direct.marker}" if direct.marker else "")
        url = direct.url
        extras = frozenset(direct.extras)
    else:
        url_no_extras, extras_text = strip_extras_text(text)
        local = os.path.join(cwd, url_no_extras)
        if os.path.isdir(local):
            url_no_extras = _path_to_url(local)
        if url_no_extras.lower().startswith("file:"):
            url = url_no_extras
            name = _egg_name(url, _error_prefix(origin))
            if extras_text:
                extras = frozenset(Requirement("placeholder" + extras_text.lower()).extras)
        else:
            url = text
            for vcs in _VCS_NAMES:
                if text.lower().startswith(f"{vcs}:"):
                    url = f"{vcs}+{text}"
                    break
            name = _egg_name(url, _error_prefix(origin))
    is_vcs = _scheme(url) in _VCS_SCHEMES
    if not is_vcs and not url.startswith("file:"):
        raise _error(
            origin,
            f"{text} is not a valid editable requirement. It should either be a path to a local "
            f"project or a VCS URL (beginning with {', '.join(sorted(_VCS_SCHEMES))}).",
        )
    if not name and not url.startswith("file:"):
        raise _error(
            origin,
            f"Could not detect requirement name for '{text}', please specify one with your_package_name @ URL",
        )
    requirement = _requirement_or_error(name, origin, cwd) if name else None
    if requirement is not None:
        if extras:
            requirement.extras = set(extras)
    return ReqItem(
        text=text,
        origin=origin,
        kind="vcs" if is_vcs else "path",
        requirement=requirement,
        url=url,
        path=url_to_path(url) if url.startswith("file:") else None,
        editable=True,
        extras=extras,
        marker=str(requirement.marker) if requirement is not None and requirement.marker else None,
    )


def item_unmodeled(item: ReqItem) -> list[str]:
    """Requirement-level reasons. Only VCS: local directories, editables, archives and wheel URLs
    are visible in ``ReqItem.kind``/``path``/``editable``, and the simulation decides about them
    (static ``pyproject.toml`` metadata can be exact; an sdist needs a build)."""
    if item.kind == "vcs":
        role = "constraint" if not item.user_supplied else "requirement"
        return [f"vcs {role} {item.text} ({item.origin})"]
    return []

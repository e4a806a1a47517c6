"""Template files (inline images, attachments) in a content-addressed folder: a file is named by
the sha256 of its bytes, so a campaign's template can never point at changed content."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from physical.settings import data_folder
from semantic.errors import StrataError


def files_folder() -> Path:
    """Where template files live: $STRATA_DATA/campaign-files.

    >>> files_folder().name
    'campaign-files'
    """
    return data_folder() / "campaign-files"


def put_file(content: bytes | Path, folder: Path | None = None) -> str:
    """Store `content` (bytes, or a file to read) and return its sha256, which names it.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> digest = put_file(b"hello", folder)
    >>> digest[:12], get_file(digest, folder)
    ('2cf24dba5fb0', b'hello')
    """
    data = Path(content).read_bytes() if isinstance(content, Path) else content
    digest = hashlib.sha256(data).hexdigest()
    target = _path(digest, folder)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    return digest


def get_file(digest: str, folder: Path | None = None) -> bytes:
    """The bytes stored under `digest`; an error names the digest if the file is gone."""
    path = _path(digest, folder)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise StrataError(
            f"template file {digest[:12]}… is missing from {path.parent.parent}\n"
            "  hint: add the image or attachment to the template again"
        ) from None


def _path(digest: str, folder: Path | None) -> Path:
    if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
        raise StrataError(f"not a file digest: {digest!r}")
    return (folder or files_folder()) / digest[:2] / digest

"""Put uploaded files into the watched documents folder and take documents out of it.

Checks come from ``kb.uploads`` and run before anything is written. The file is written under a hidden
``.part`` name that the watcher and the ingestor ignore, then renamed into ``docs_dir/<collection>/``, so an
upload takes exactly the path of a file dropped into the folder. Indexing is the caller's next step.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from kb.errors import KBError
from kb.settings import Settings
from kb.sync.uploads import UploadRejected, check_upload, safe_upload_path

log = logging.getLogger(__name__)


def save_upload(name: str, data: bytes, settings: Settings, collection: str = "", replace: bool = False) -> Path:
    """Check an upload and write it atomically to ``docs_dir/collection/``; returns the final path.

    Raises ``UploadRejected`` (nothing written) for a bad name, type, size or content, or an existing
    file when ``replace`` is False.
    """
    check_upload(name, data[:8192], len(data), settings)
    target = safe_upload_path(settings.docs_dir, collection.strip(), name)
    if target.exists() and not replace:
        raise UploadRejected(f"{target.name} already exists in {target.parent.name or 'the documents folder'}; "
                             f"choose 'replace' to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.part"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("uploaded %s (%d bytes)", target, len(data))
    return target


def delete_document(path: str | Path, settings: Settings) -> Path:
    """Remove a document's file from the watched folder (never outside it); returns the path removed."""
    target = Path(path).resolve()
    root = Path(settings.docs_dir).expanduser().resolve()
    if not target.is_relative_to(root) or target == root:
        raise KBError(f"{path} is not inside the documents folder {root}; only files there can be deleted here")
    if not target.is_file():
        raise KBError(f"{path} does not exist any more (deleted by someone else?); re-index to refresh the list")
    target.unlink()
    log.info("deleted %s", target)
    return target

"""Which documents the files in Streamlit's media store came from, so the download guard (``ui.guard``) can
check a reader's access to them at every request."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Iterable

ADMINS = "<admins>"  # what the registry records for media only admins may open (e.g. the knowledge-gaps report)


def media_id(data: bytes, mimetype: str, filename: str | None = None) -> str:
    """The id Streamlit gives these bytes in its media store (the ``/media/<id>.<ext>`` URL); a test pins that
    it is the one in the URLs of the app's pictures and downloads, so a change in Streamlit fails closed."""
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    return _calculate_file_id(data, mimetype, filename)


class MediaRegistry:
    """Which documents each media id was made from (one per process, like Streamlit's media store).

    An id maps to every document registered under it: the same bytes may be two files' copies, and above 1 MB
    Streamlit's id hashes only parts of the file, so a reader must be allowed every one of them. The oldest ids
    are forgotten past ``limit`` (their URLs are then refused until a page shows them again)."""

    def __init__(self, limit: int = 20_000):
        self._paths: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def register(self, data: bytes, mimetype: str, filename: str | None, paths: Iterable[str]) -> str:
        """Record that these bytes come from ``paths`` (documents, or :data:`ADMINS`); returns their id."""
        file_id = media_id(data, mimetype, filename)
        with self._lock:
            self._paths[file_id] = self._paths.pop(file_id, frozenset()) | frozenset(map(str, paths))
            while len(self._paths) > self._limit:
                self._paths.popitem(last=False)
        return file_id

    def paths(self, file_id: str) -> frozenset[str] | None:
        with self._lock:
            return self._paths.get(file_id)

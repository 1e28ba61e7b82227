"""The parse worker process: ``python -m ingest.worker FD`` serves :func:`ingest.pool.serve` on socket FD.

Started by :class:`ingest.pool.ParsePool` only; it imports the parsers and the tokenizer, never the caller's
script.
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

from ingest.pool import serve


def main(argv: list[str]) -> int:
    conn = Connection(int(argv[1]))
    try:
        serve(conn)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""The one exception tree of the knowledge base.

KBError
├── ConfigError          a setting has a bad key or value
├── DatabaseError        the app database (SQLite file or PostgreSQL) cannot be opened or used
├── IndexUnusable          the index folder is missing, corrupt or incompatible
│   ├── IndexNotFound
│   ├── IncompatibleIndex    built with another model, schema or chunking
│   └── IndexLocked          another writer holds the index
├── InvalidQuestion      a question (or search query) is blank, has no letter or digit, or is too long
├── ModelError           a model cannot be found or loaded
└── UnreadableFile       one input file cannot be indexed (recorded as a skip, never fatal to a batch)

The library raises; the CLI and the web app render ``str(error)``, which always says what happened,
the value involved, and what to do next.
"""

from __future__ import annotations


class KBError(Exception):
    """Base of every error the knowledge base raises on purpose."""


class ConfigError(KBError):
    """A setting is unknown or has a bad value."""


class DatabaseError(KBError):
    """The app database (users, sessions, questions, audit log) cannot be opened or used; the message names the
    file or the host, never a password."""


class IndexUnusable(KBError):
    """The index folder cannot be used as it is."""


class IndexNotFound(IndexUnusable):
    """No index exists at the given folder."""


class IncompatibleIndex(IndexUnusable):
    """The index was built with another schema, model or chunking settings."""


class IndexLocked(IndexUnusable):
    """Another process is writing to the index."""


class InvalidQuestion(KBError):
    """A question or search query that is refused before anything is searched or recorded (see
    ``kb.text.questions.check_question``); ``problem`` is "blank", "no_words", "too_long" or "not_text"."""

    def __init__(self, message: str, problem: str):
        super().__init__(message)
        self.problem = problem


class ModelError(KBError):
    """A model cannot be found or loaded."""


class UnreadableFile(KBError):
    """One file cannot be indexed; ``reason`` is short and specific (shown by ``kb status``)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

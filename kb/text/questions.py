"""What a person may type as a question or search query, checked once before anything is searched or recorded.

:func:`check_question` is the one check: ``KnowledgeBase.ask`` and ``.search``, ``kb ask`` and ``kb search``
(each ``--batch`` line too) and the web app's chat box call it, so they refuse the same input with the same
words. A question is refused when it is blank or white space only, when it has no letter or digit in any script
("???", "…", an emoji), or when it is longer than setting ``max_question_chars``: a bounded question bounds
the memory and time of everything after it (spelling, embedding, keyword terms, the judge, the prompt).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kb.errors import InvalidQuestion

if TYPE_CHECKING:  # pragma: no cover
    from kb.settings import Settings

_LETTER_OR_DIGIT = re.compile(r"[^\W_]")  # a word character that is not "_": a letter or digit of any script


def check_question(text: object, settings: "Settings", what: str = "question") -> str:
    """``text`` without the white space around it, or :class:`InvalidQuestion` saying what is wrong and what to
    do; ``what`` names the input in the message ("question", "search query")."""
    if not isinstance(text, str):
        kind = {type(None): "null", bool: "true or false", int: "a number", float: "a number", list: "a list",
                dict: "an object"}.get(type(text), type(text).__name__)
        raise InvalidQuestion(f"the {what} must be text, not {kind}", "not_text")
    question = text.strip()
    if not question:
        raise InvalidQuestion(f"the {what} is blank: type what you want to know, e.g. \"How many days of leave "
                              "do I get?\"", "blank")
    limit = settings.max_question_chars
    if len(question) > limit:
        raise InvalidQuestion(f"the {what} is {len(question):,} characters long; the limit is {limit:,} (setting "
                              "max_question_chars): ask about one thing in a sentence or two", "too_long")
    if not _LETTER_OR_DIGIT.search(question):
        shown = question if len(question) <= 20 else question[:20] + "…"
        raise InvalidQuestion(f"the {what} {shown!r} has no letter or digit: type what you want to know in words",
                              "no_words")
    return question

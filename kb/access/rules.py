"""Per-document access control: a rules file maps folder globs to the groups that may read them.

Rules file syntax (setting ``acl_rules``; one rule a line, ``#`` starts a comment)::

    # glob (relative to docs_dir)   ->  groups allowed to read matching documents
    hr/**                           ->  hr
    hr/confidential/**              ->  hr-leads
    finance/salaries-*.pdf          ->  finance, management
    handbook/**                     ->  everyone
    /srv/legal/**                   ->  legal          # a pattern starting with / matches absolute paths

- Globs match a document's path relative to ``docs_dir`` with ``/`` separators. ``*`` and ``?`` stay inside
  one folder level, ``**`` spans any number of levels (``hr/**`` is everything under ``hr/``), ``[abc]`` is a
  character class. A pattern ending in ``/`` means everything below that folder. A pattern without any ``/``
  (``*.salary.pdf``) matches the file name at any depth. Documents outside ``docs_dir`` are matched only by
  absolute patterns.
- The **last** matching rule wins (as in CODEOWNERS), so a later, narrower rule can tighten or open up an
  earlier, broader one. A document no rule matches is readable by everyone; so is one whose rule says
  ``everyone``.
- Admins read everything. Other users read a document when they share at least one group with its rule.

Groups are computed from chunk paths at query time, so editing the file takes effect on the next search
without re-embedding or re-indexing. A rules file that is set but missing or malformed is an error (fail
closed), never silently "no restrictions".
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Callable

from kb.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from kb.access.users import User
    from kb.retrieval.filters import Filter
    from kb.settings import Settings

log = logging.getLogger(__name__)

EVERYONE = "everyone"
ARROW = "->"
# a group name, in the rules file and on a user
GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")


@dataclass(frozen=True)
class Rule:
    """One line of the rules file."""

    pattern: str
    groups: frozenset[str]
    line: int
    regex: re.Pattern = field(compare=False, repr=False)

    @property
    def public(self) -> bool:
        return EVERYONE in self.groups


def glob_to_regex(pattern: str) -> re.Pattern:
    """Compile a path glob where ``*``/``?`` stay within one folder level and ``**`` spans levels."""
    if pattern.endswith("/"):
        pattern += "**"
    anchored = pattern.startswith("/")
    body = pattern.lstrip("/") if anchored else pattern
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if body.startswith("**/", i):
            out.append(r"(?:[^/]*/)*")  # zero or more whole folder levels
            i += 3
            continue
        if body.startswith("**", i):
            out.append(r".*")
            i += 2
            continue
        if ch == "*":
            out.append(r"[^/]*")
        elif ch == "?":
            out.append(r"[^/]")
        elif ch == "[":
            end = body.find("]", i + 2 if body[i + 1:i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                inner = body[i + 1:end]
                if inner.startswith("!"):
                    inner = "^" + inner[1:]
                out.append("[" + inner.replace("\\", "\\\\") + "]")
                i = end + 1
                continue
        else:
            out.append(re.escape(ch))
        i += 1
    regex = "".join(out)
    if anchored:
        return re.compile("^/" + regex + r"\Z")
    if "/" not in body:
        return re.compile(r"^(?:.*/)?" + regex + r"\Z")  # a bare name matches at any depth
    return re.compile("^" + regex + r"\Z")


def parse_rules(text: str, source: str = "rules") -> tuple[Rule, ...]:
    """Parse rules-file text; a bad line raises ConfigError naming the line and the fix."""
    rules = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if ARROW not in line:
            raise ConfigError(f"{source} line {number}: {raw.strip()!r} is not a rule; write "
                              f"`folder/glob/** -> group1, group2`")
        pattern, _, groups_text = line.partition(ARROW)
        pattern = pattern.strip()
        groups = [g.strip() for g in groups_text.split(",") if g.strip()]
        if not pattern:
            raise ConfigError(f"{source} line {number}: the rule has no glob before `->`")
        if not groups:
            raise ConfigError(f"{source} line {number}: the rule for {pattern!r} names no group after `->` "
                              f"(use `everyone` to make it public)")
        bad = [g for g in groups if not GROUP_NAME.match(g)]
        if bad:
            raise ConfigError(f"{source} line {number}: group name {bad[0]!r} is not valid (letters, digits, "
                              f"_ . @ -, starting with a letter or digit)")
        if ".." in PurePosixPath(pattern.lstrip("/")).parts:
            raise ConfigError(f"{source} line {number}: glob {pattern!r} must not contain `..`")
        rules.append(Rule(pattern, frozenset(groups), number, glob_to_regex(pattern)))
    return tuple(rules)


@dataclass(frozen=True)
class AccessPolicy:
    """Who may read which document: rules over paths relative to ``root`` (the documents folder)."""

    root: Path
    rules: tuple[Rule, ...] = ()

    @classmethod
    def from_file(cls, path: Path, root: Path) -> "AccessPolicy":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"access rules file {path} (setting acl_rules) does not exist; create it or "
                              "unset acl_rules") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"access rules file {path} cannot be read ({exc})") from None
        return cls(Path(os.path.abspath(Path(root).expanduser().resolve())), parse_rules(text, str(path)))

    @classmethod
    def from_settings(cls, settings: "Settings") -> "AccessPolicy":
        """The policy the settings describe; no rules file means every document is public."""
        from kb.settings import is_set

        root = Path(settings.docs_dir).expanduser().resolve()
        if not is_set(settings.acl_rules):
            return cls(root)
        return cls.from_file(Path(settings.acl_rules).expanduser(), root)

    def _key(self, path: str | Path) -> str | None:
        """The path rules match against: relative to root, or None when it lies outside it."""
        absolute = PurePosixPath(os.path.abspath(str(path)))
        try:
            return absolute.relative_to(PurePosixPath(str(self.root))).as_posix()
        except ValueError:
            return None

    def rule_for(self, path: str | Path) -> Rule | None:
        """The last rule matching ``path`` (an indexed document's path), or None."""
        relative = self._key(path)
        absolute = PurePosixPath(os.path.abspath(str(path))).as_posix()
        for rule in reversed(self.rules):
            anchored = rule.pattern.startswith("/")
            target = absolute if anchored else relative
            if target is not None and rule.regex.match(target):
                return rule
        return None

    def groups_for(self, path: str | Path) -> frozenset[str] | None:
        """The groups allowed to read ``path``; None when everyone may."""
        rule = self.rule_for(path)
        if rule is None or rule.public:
            return None
        return rule.groups

    def allowed(self, path: str | Path, user: "User | None") -> bool:
        """Whether ``user`` may read the document at ``path``. ``None`` is an anonymous user (public only)."""
        groups = self.groups_for(path)
        if groups is None:
            return True
        if user is None:
            return False
        if user.is_admin:
            return True
        return bool(groups & frozenset(user.groups))

    def predicate(self, user: "User | None") -> Callable[[str], bool]:
        """``path -> allowed`` for one user, memoised per path (many chunks share a document)."""
        if not self.rules or (user is not None and user.is_admin):
            return lambda path: True
        cache: dict[str, bool] = {}

        def allowed(path: str) -> bool:
            if path not in cache:
                cache[path] = self.allowed(path, user)
            return cache[path]

        return allowed


class PolicySource:
    """The current policy for a settings object, re-read when the rules file changes (no re-indexing)."""

    def __init__(self, settings: "Settings"):
        self.settings = settings
        self._stamp: bytes | None = None
        self._policy: AccessPolicy | None = None

    def policy(self) -> AccessPolicy:
        from kb.settings import is_set

        # the file is tiny: compare its bytes, which (unlike mtime) cannot miss a quick edit
        stamp: bytes | None = None
        if is_set(self.settings.acl_rules):
            try:
                stamp = Path(self.settings.acl_rules).expanduser().read_bytes()
            except OSError:
                stamp = b"\0unreadable"  # from_settings raises the precise error
        if self._policy is None or stamp != self._stamp:
            self._policy = AccessPolicy.from_settings(self.settings)
            self._stamp = stamp
            log.info("access rules loaded: %d rule(s) from %s", len(self._policy.rules),
                     self.settings.acl_rules or "(none)")
        return self._policy


def restrict(where: "Filter | None", policy: AccessPolicy, user: "User") -> "Filter | None":
    """``where`` narrowed to the documents ``user`` may read (the filter retrieval applies before ranking).

    Admins and policies without rules leave ``where`` as it is; otherwise the access check is combined with
    any predicate ``where`` already has.
    """
    from kb.retrieval.filters import Filter

    if not policy.rules or user.is_admin:
        return where
    check = policy.predicate(user)
    if where is None:
        return Filter(predicate=check)
    inner = where.predicate
    combined = check if inner is None else (lambda path: check(path) and bool(inner(path)))
    return dataclasses.replace(where, predicate=combined)

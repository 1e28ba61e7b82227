"""Per-document access control: a rules file maps folder globs to the groups that may read them.

Rules file syntax (setting ``acl_rules``; one rule a line, ``#`` starts a comment)::

    # glob (relative to docs_dir)   ->  groups allowed to read matching documents
    hr/**                           ->  hr
    hr/confidential/**              ->  hr-leads
    finance/salaries-*.pdf          ->  finance, management
    handbook/**                     ->  everyone
    /srv/legal/**                   ->  legal          # a pattern starting with / matches absolute paths

- Globs match a document's path relative to ``docs_dir`` with ``/`` separators, normalised (``..`` and ``.``
  resolved), case-sensitively like the file system (``HR/**`` does not match ``hr/``). ``*`` and ``?`` stay
  inside one folder level, ``**`` spans any number of levels and any character, newlines included (``hr/**``
  is everything under ``hr/``), ``[abc]`` is a character class. A pattern ending in ``/`` means everything
  below that folder. A pattern without any ``/`` (``*.salary.pdf``) matches the file name at any depth.
  Documents outside ``docs_dir`` are matched only by absolute patterns. A backslash, or a control or invisible
  character, in a glob is an error (``/`` separates folders); a UTF-8 byte-order mark is ignored, with a notice.
- The **last** matching rule wins (as in CODEOWNERS), so a later, narrower rule can tighten or open up an
  earlier, broader one. A document no rule matches is readable by everyone; so is one whose rule says
  ``everyone``.
- Admins read everything. Other users read a document when they share at least one group with its rule.

Groups are computed from chunk paths at query time, so editing the file takes effect on the next search
without re-embedding or re-indexing. A rules file that is set but missing or malformed is an error (fail
closed), never silently "no restrictions". So is one whose intent is ambiguous against the indexed documents
(:func:`check_rules`): a rule that matches nothing but would with other case, without its leading ``/`` or as
a folder (``hr`` for ``hr/**``), or relative rules while no indexed document is inside ``docs_dir``. A rule
that simply matches nothing yet is reported (``kb status``, the Documents page), not refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from kb.errors import ConfigError, KBError
from kb.files import name_problem, printable

if TYPE_CHECKING:  # pragma: no cover
    from kb.access.users import User
    from kb.retrieval.filters import Filter
    from kb.settings import Settings

log = logging.getLogger(__name__)

EVERYONE = "everyone"
ARROW = "->"
# a group name, in the rules file and on a user
GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
BOM = "\ufeff"
_WILDCARDS = re.compile(r"[*?\[]")


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

    @property
    def anchored(self) -> bool:
        """Whether the glob matches absolute paths (it starts with ``/``)."""
        return self.pattern.startswith("/")


@dataclass(frozen=True)
class RuleProblem:
    """Something wrong with the rules file: ``refuse`` problems stop searches until the file is fixed."""

    line: int  # 0: the file as a whole
    message: str
    refuse: bool = False

    def to_json(self) -> dict:
        return {"line": self.line or None, "message": self.message, "severity": "error" if self.refuse else "warning"}


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
    # DOTALL: ** and the any-depth prefix must span every character, or a newline in a path escapes the rule
    if anchored:
        return re.compile("^/" + regex + r"\Z", re.DOTALL)
    if "/" not in body:
        return re.compile(r"^(?:.*/)?" + regex + r"\Z", re.DOTALL)  # a bare name matches at any depth
    return re.compile("^" + regex + r"\Z", re.DOTALL)


def parse_rules(text: str, source: str = "rules") -> tuple[Rule, ...]:
    """Parse rules-file text; a bad line raises ConfigError naming the line and the fix."""
    rules = []
    text = text[1:] if text.startswith(BOM) else text  # an editor's byte-order mark is not part of the first glob
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
        if "\\" in pattern:
            raise ConfigError(f"{source} line {number}: glob {pattern!r} has a backslash; folders are separated by "
                              f"`/` in rules (write {pattern.replace(chr(92), '/')!r})")
        problem = name_problem(pattern)
        if problem:
            raise ConfigError(f"{source} line {number}: glob {printable(pattern)!r} {problem}; retype the line")
        rules.append(Rule(pattern, frozenset(groups), number, glob_to_regex(pattern)))
    return tuple(rules)


@dataclass(frozen=True)
class AccessPolicy:
    """Who may read which document: rules over paths relative to ``root`` (the documents folder).

    ``notices`` are what loading the file noticed without refusing it (e.g. a byte-order mark)."""

    root: Path
    rules: tuple[Rule, ...] = ()
    source: str = ""
    notices: tuple[RuleProblem, ...] = ()

    @classmethod
    def from_file(cls, path: Path, root: Path) -> AccessPolicy:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"access rules file {path} (setting acl_rules) does not exist; create it or "
                              "unset acl_rules") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"access rules file {path} cannot be read ({exc})") from None
        notices = ()
        if text.startswith(BOM):
            notices = (RuleProblem(1, f"{path} starts with a UTF-8 byte-order mark (BOM), which was ignored; "
                                      "save the file as UTF-8 without BOM"),)
        rules = parse_rules(text, str(path))
        return cls(Path(os.path.abspath(Path(root).expanduser().resolve())), rules, str(path), notices)

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessPolicy:
        """The policy the settings describe; no rules file means every document is public.

        Relative globs need the documents folder: with rules set and ``docs_dir`` not a folder, they would
        match nothing, so that is refused."""
        from kb.settings import is_set

        root = Path(settings.docs_dir).expanduser().resolve()
        if not is_set(settings.acl_rules):
            return cls(root)
        policy = cls.from_file(Path(settings.acl_rules).expanduser(), root)
        relative = [r for r in policy.rules if not r.anchored]
        if relative and not root.is_dir():
            raise ConfigError(f"access rules {settings.acl_rules} are relative to docs_dir, but docs_dir "
                              f"{settings.docs_dir} ({root}) is not a folder, so rule {relative[0].pattern!r} "
                              f"(line {relative[0].line}) could match no document; set docs_dir (kb.toml or "
                              f"KB_DOCS_DIR) to the documents folder")
        return policy

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

    def allowed(self, path: str | Path, user: User | None) -> bool:
        """Whether ``user`` may read the document at ``path``. ``None`` is an anonymous user (public only)."""
        groups = self.groups_for(path)
        if groups is None:
            return True
        if user is None:
            return False
        if user.is_admin:
            return True
        return bool(groups & frozenset(user.groups))

    @property
    def stamp(self) -> str:
        """Identifies what these rules decide (their root, globs, groups and order; not comments or line numbers):
        a backend that stores each passage's access key (Milvus) knows by it whether the keys are still right."""
        decided = json.dumps([str(self.root), [[r.pattern, sorted(r.groups)] for r in self.rules]])
        return hashlib.sha256(decided.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def access_key(self, path: str | Path) -> str:
        """Who may read ``path``, as one string: "everyone", or its rule's groups sorted and joined by commas
        (group names have none)."""
        groups = self.groups_for(path)
        return EVERYONE if groups is None else ",".join(sorted(groups))

    def readable_keys(self, user: User) -> tuple[str, ...]:
        """The access keys (:meth:`access_key`) of the documents a non-admin ``user`` may read."""
        mine = frozenset(user.groups)
        return (EVERYONE, *sorted({",".join(sorted(r.groups)) for r in self.rules
                                   if not r.public and r.groups & mine}))

    def predicate(self, user: User | None) -> Callable[[str], bool]:
        """``path -> allowed`` for one user, memoised per path (many chunks share a document)."""
        if not self.rules or (user is not None and user.is_admin):
            return lambda path: True
        cache: dict[str, bool] = {}

        def allowed(path: str) -> bool:
            if path not in cache:
                cache[path] = self.allowed(path, user)
            return cache[path]

        return allowed


def check_rules(policy: AccessPolicy, paths: Iterable[str]) -> list[RuleProblem]:
    """What is wrong with ``policy`` given the indexed documents' ``paths``: refused and reported problems.

    A rule that matches no document is refused when the intent is ambiguous (it would match with other
    upper/lower case, without its leading ``/``, or as a folder) and reported otherwise; relative rules are
    refused when no document lies inside the documents folder at all.
    """
    problems = list(policy.notices)
    if not policy.rules:
        return problems
    absolute = [PurePosixPath(os.path.abspath(str(p))).as_posix() for p in paths]
    inside = [k for k in (policy._key(p) for p in absolute) if k is not None]
    if absolute and not inside and any(not r.anchored for r in policy.rules):
        source = policy.source or "the rules file"
        problems.append(RuleProblem(0, f"none of the {len(absolute)} indexed documents is inside docs_dir "
                                       f"{policy.root}, so no relative rule of {source} can match; set docs_dir to "
                                       "the folder the documents were indexed from", refuse=True))
        return problems
    for rule in policy.rules:
        targets = absolute if rule.anchored else inside
        if any(rule.regex.match(t) for t in targets):
            continue
        problems.append(_unmatched(rule, absolute, inside))
    return problems


def _unmatched(rule: Rule, absolute: list[str], inside: list[str]) -> RuleProblem:
    """The problem of a rule that matches no indexed document: refused when a near miss shows the intent."""
    where = f"line {rule.line}: glob {rule.pattern!r} matches no indexed document"
    targets = absolute if rule.anchored else inside
    folded = re.compile(rule.regex.pattern, rule.regex.flags | re.IGNORECASE)
    example = next((t for t in targets if folded.match(t)), None)
    if example is not None:
        return RuleProblem(rule.line, f"{where}, but matches {example!r} when upper/lower case is ignored; rules "
                                      "are case-sensitive like file names: write the name as it is on disk", True)
    if rule.anchored:
        relative = glob_to_regex(rule.pattern.lstrip("/"))
        example = next((t for t in inside if relative.match(t)), None)
        if example is not None:
            return RuleProblem(rule.line, f"{where}, but {rule.pattern.lstrip('/')!r} would match {example!r}: a "
                                          "leading / makes a glob an absolute path (outside docs_dir); drop it "
                                          "for a folder inside docs_dir", True)
    if not _WILDCARDS.search(rule.pattern) and not rule.pattern.endswith("/"):
        fix = ("**/" if "/" not in rule.pattern else "") + rule.pattern + "/**"  # a bare name: at any depth
        folder = glob_to_regex(fix)
        example = next((t for t in targets if folder.match(t)), None)
        if example is not None:
            return RuleProblem(rule.line, f"{where}, but names the folder of {example!r}: a glob without * matches "
                                          f"only a file of that name; write {fix!r} for everything in the folder",
                               True)
    return RuleProblem(rule.line, f"{where} (globs are case-sensitive and relative to docs_dir; a rule for a "
                                  "folder that has no documents yet is fine)")


class PolicySource:
    """The current policy for a settings object, re-read when the rules file changes (no re-indexing)."""

    def __init__(self, settings: Settings):
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


def restrict(where: Filter | None, policy: AccessPolicy, user: User) -> Filter | None:
    """``where`` narrowed to the documents ``user`` may read (the filter retrieval applies before ranking).

    Admins and policies without rules leave ``where`` as it is; otherwise the access check becomes its ``access``
    part, which a backend may push down as the access keys it stores with each passage (``Filter.access``).
    """
    from kb.retrieval.filters import Access, Filter

    if not policy.rules or user.is_admin:
        return where
    access = Access(policy.predicate(user), policy.readable_keys(user), policy.stamp, policy.access_key)
    if where is None:
        return Filter(access=access)
    if where.access is not None:  # restricted twice: both checks hold (the earlier one as a plain predicate)
        earlier, inner = where.access.check, where.predicate
        where = dataclasses.replace(where, predicate=lambda path: earlier(path) and (inner is None or inner(path)))
    return dataclasses.replace(where, access=access)


def milvus_access_keys(settings: Settings) -> Callable[[], tuple[str, Callable[[str], str]]]:
    """For a Milvus store (``kb.retrieval.milvus``): () -> (stamp, path -> access key) under the access rules
    ``settings`` name now; ("", a key no reader has) when they cannot be loaded: searches then re-stamp the
    collection with the rules they run under."""
    def keys() -> tuple[str, Callable[[str], str]]:
        try:
            policy = AccessPolicy.from_settings(settings)
        except KBError as exc:
            log.warning("access rules cannot be loaded (%s): the Milvus collection's access keys are set on its "
                        "first search", exc)
            return "", lambda path: ""
        return policy.stamp, policy.access_key
    return keys

"""Where redaction patterns can match, found at C speed, so an 8 KiB argv costs well under 1 ms.

One alternation of every pattern makes `re` try each pattern at each character (~0.5 µs a
character, 4 ms for the kernel's 8 KiB argv, and quadratic for repeated `mysql` words, whose
lazy scan runs to the end of the text from each). Here a default pattern has a *finder*: a
regex with a literal (or small-set) prefix, run on the text, on its ASCII-folded form or on that
form reversed (so a run *before* a literal, like `scheme://` or `--db-password=`, is found from
the literal), whose hits are a superset of where the pattern can start. The pattern itself is
then tried only there: `match` at a position sees the whole text, so its lookarounds behave as
in a search. Other patterns are searched as they are. The earliest match wins, the first
pattern on a tie, and scanning goes on after it: exactly what `sub` does with the alternation.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from functools import cached_property

# Every non-ASCII character that `(?i)` matches to an ASCII letter ("\u212a".lower() is "k").
_FOLDS = (("\u0130", "i"), ("\u0131", "i"), ("\u017f", "s"))
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+"
# A 40-character base64 run not touching another base64 character or `=`: what
# secret-looking-value's lookarounds allow, as a byte string to `find`.
_B64_CLASSES = bytes(b"b"[0] if c in _B64 else b"="[0] if c == b"="[0] else b" "[0] for c in range(256))
_B64_RUN = b" " + b"b" * 40 + b" "
_WORDS_REVERSED = (
    r"d(?:ro)?wssap|dwp|ssap|terces|nekot|yek[_-]?ipa|yek[_-]?ssecca|yek[_-]?etavirp|s?laitnederc|htua"
)
_WORDS = ("pass", "pwd", "secret", "token", "api", "access", "private", "credential", "auth")
_MYSQL_P = re.compile(r"-p(?<=[\s\x00]-p)(?=[^\s\x00])")  # `[\s\x00]-p(?P<secret>[^\s\x00]+)`


class Views:
    """The text and the forms finders read, each built once and only when asked for."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def folded(self) -> str:
        """ASCII letters lowercased, same length: where `(?i)` words can be found with a literal."""
        text = self.text
        if not text.isascii():
            for char, ascii_letter in _FOLDS:
                text = text.replace(char, ascii_letter)
        return text.lower()

    @cached_property
    def reversed(self) -> str:
        return self.folded[::-1]

    @cached_property
    def b64_classes(self) -> bytes:
        """One byte a character (`b` base64, `=`, or space), framed by spaces."""
        return b" " + self.text.encode("ascii", "replace").translate(_B64_CLASSES) + b" "

    @cached_property
    def mysql_p(self) -> list[int]:
        """Where each `[\\s\\x00]-p` followed by a password starts (the whitespace)."""
        return [m.start() - 1 for m in _MYSQL_P.finditer(self.text)]


Finder = Callable[[Views], list[int]]
Skip = Callable[[Views, int], int]


def forward(regex: str, folded: bool = True) -> Finder:
    """Starts of `regex` hits in the folded text (or in the text itself)."""
    compiled = re.compile(regex)
    return lambda v: [m.start() for m in compiled.finditer(v.folded if folded else v.text)]


def backward(regex: str) -> Finder:
    """Starts of the hits of `regex`, written for the reversed folded text (its ends, there)."""
    compiled = re.compile(regex)
    return lambda v: [len(v.text) - m.end() for m in compiled.finditer(v.reversed)][::-1]


def with_word(finder: Finder) -> Finder:
    """`finder`, run only when a secret word occurs at all (a few `in` tests, not a scan per `=`)."""
    return lambda v: finder(v) if any(word in v.folded for word in _WORDS) else []


def b64_runs(v: Views) -> list[int]:
    runs, at = [], v.b64_classes.find(_B64_RUN)
    while at >= 0:
        runs.append(at)  # the frame's leading space makes `at` the run's own offset
        at = v.b64_classes.find(_B64_RUN, at + 41)
    return runs


def mysql_skip(v: Views, start: int) -> int:
    """`start` if a `-p` password follows on its line; else where the next such line begins.

    The pattern's lazy `[^\\n]*?` would otherwise scan to the line's end from every client name.
    """
    anchors = v.mysql_p
    index = bisect_left(anchors, start)
    if index == len(anchors):
        return len(v.text)
    newline = v.text.rfind("\n", start, anchors[index])
    return start if newline < 0 else newline + 1


# Finders for `redact.DEFAULT_PATTERNS`, by name; each is a superset of its pattern's starts,
# and a hit consumes nothing past its literal that could hold another start.
FINDERS: dict[str, tuple[Finder, Skip | None]] = {
    "url-credentials": (backward(r"@[^@\s\x00/]+:[^/\s\x00:@]*//:[a-z0-9+.-]*[a-z](?![a-z0-9+.-])"), None),
    "authorization-header": (forward("authorization:"), None),
    "bearer-token": (forward(r"bearer(?<!\wbearer)(?=[ \t\x00]+[a-z0-9._~+/=-]{8})"), None),
    "key-value": (  # and a value after the `=`: its first character, or a space before it
        with_word(
            backward(
                r"[=:](?<=[^\s\x00&;,][=:]|[ \t][=:])[ \t]*"
                rf"(?:{_WORDS_REVERSED})[a-z0-9_.-]{{0,42}}(?![a-z0-9_.-])"
            )
        ),
        None,
    ),
    "secret-flag": (
        with_word(
            backward(
                r"(?:\x00(?<=[^\x00-]\x00)|\t(?<=[^\s\x00-]\t)[ \t]*| (?<=[^\s\x00-] )[ \t]*)"
                rf"(?:{_WORDS_REVERSED})[a-z0-9_.-]{{0,41}}(?<=-)(?![a-z0-9_.-])"
            )
        ),
        None,
    ),
    "mysql-attached-password": (forward(r"m(?<!\wm)(?:ysql|ariadb)"), mysql_skip),
    "sshpass-password": (forward("sshpass", folded=False), None),
    "aws-access-key-id": (forward(r"A(?:KIA|SIA|BIA|CCA)(?=[A-Z0-9]{16})", folded=False), None),
    "well-known-tokens": (
        forward(
            r"gh[pousr]_(?=[A-Za-z0-9]{36})|github_pat_(?=[A-Za-z0-9_]{40})|xox[abprs]-(?=[A-Za-z0-9-]{10})"
            r"|glpat-(?=[A-Za-z0-9_-]{20})|sk-(?=[A-Za-z0-9_-]{32})|eyJ(?=[A-Za-z0-9_-]{8,}\.eyJ)",
            folded=False,
        ),
        None,
    ),
    "secret-looking-value": (b64_runs, None),
}


class Scanner:
    """The next match of one pattern at or after a position, in one text."""

    def __init__(
        self, pattern: re.Pattern[str], views: Views, finder: Finder | None, skip: Skip | None
    ) -> None:
        self.pattern = pattern
        self.views = views
        self.skip = skip
        self.starts = finder(views) if finder is not None else None
        self.index = 0

    def next_match(self, pos: int) -> re.Match[str] | None:
        if self.starts is None:
            return self.pattern.search(self.views.text, pos)
        starts = self.starts
        self.index = bisect_left(starts, pos, self.index)
        while self.index < len(starts):
            start = starts[self.index]
            if self.skip is not None and (ahead := self.skip(self.views, start)) != start:
                self.index = bisect_left(starts, ahead, self.index)
                continue
            match = self.pattern.match(self.views.text, start)
            if match is not None:
                return match
            self.index += 1
        return None


def matches(
    patterns: list[tuple[re.Pattern[str], str | None]], text: str
) -> list[tuple[int, re.Match[str]]] | None:
    """(pattern index, match) in the order `sub` with the alternation finds them.

    `patterns` pairs each compiled pattern with its finder's name (None: searched as is).
    None when a pattern matches the empty string: only the alternation itself defines what
    `sub` does next then.
    """
    views = Views(text)
    scanners = []
    for compiled, name in patterns:
        finder, skip = FINDERS[name] if name is not None else (None, None)
        scanners.append(Scanner(compiled, views, finder, skip))
    found: list[tuple[int, re.Match[str]]] = []
    pending = [s.next_match(0) for s in scanners]
    while True:
        first = min(((m.start(), i, m) for i, m in enumerate(pending) if m is not None), default=None)
        if first is None:
            return found
        _, index, match = first
        if match.end() == match.start():
            return None
        found.append((index, match))
        for i, m in enumerate(pending):
            if m is not None and m.start() < match.end():
                pending[i] = scanners[i].next_match(match.end())

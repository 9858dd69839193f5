"""Redact secrets from command lines before they leave the agent.

OpenTelemetry's semantic conventions flag `process.command_line` and
`process.command_args` as sensitive: people pass passwords, tokens and keys as arguments,
and an exec event would otherwise ship them to every log backend. Redaction is on by
default, runs once per exec (the process tree caches the result for every later event of
that process), and replaces only the secret, keeping the flag or key name so analysts
still see *that* a credential was passed.

Patterns are data: `DEFAULT_PATTERNS` documents each one, and `Redactor(extra=[...])`
adds site-specific ones. What gets redacted is defined by `sub` with one alternation of
every pattern (`Redactor.reference_sub`); `redact_scan` finds the same matches from cheap
per-pattern finders, so the kernel's 8 KiB argv costs a fraction of a millisecond, not several.

A pattern is a regular expression; if it has a group named `secret`, only that group is
replaced, otherwise the whole match is. Use scoped flags (`(?i:...)`), not global ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from beholder import redact_scan

MASK = "[REDACTED]"
# The kernel keeps 8 KiB of argv per exec; /proc command lines can be longer. Past this
# many characters the text is not scanned but cut, so an unscanned tail can never leak.
MAX_SCAN_CHARS = 1 << 16
_ARG_SEP = "\x00"  # argv elements never contain NUL, so joining on it is reversible
# Below this many characters the alternation itself is cheaper than setting up the finders.
_SHORT_CHARS = 24
_END = r"[\s\x00]"  # where a bare value ends (whitespace or an argv boundary)
_SCHEMES = "(?:bearer|basic|token|digest|negotiate)"
_SECRET_WORDS = (
    r"passw(?:or)?d|pwd|pass|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
    r"credentials?|auth"
)


@dataclass(frozen=True, slots=True)
class RedactionPattern:
    """One documented rule: `regex` finds the secret (its `secret` group, or all of it)."""

    name: str
    regex: str
    description: str = ""


DEFAULT_PATTERNS: tuple[RedactionPattern, ...] = (
    RedactionPattern(
        "url-credentials",
        r"(?i:(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://[^/\s\x00:@]*:)(?P<secret>[^@\s\x00/]+)(?=@)",
        "the password of `scheme://user:password@host`; the user name is kept",
    ),
    RedactionPattern(
        "authorization-header",
        rf"(?i:authorization:[ \t]*(?:{_SCHEMES}[ \t]+)?)(?P<secret>(?i:(?!{_SCHEMES}\b))[^\s\x00\"']+)",
        "the credential of an `Authorization:` header (any scheme)",
    ),
    RedactionPattern(
        "bearer-token",
        r"(?i:\bbearer[ \t\x00]+)(?P<secret>[A-Za-z0-9._~+/=-]{8,})",
        "`Bearer <token>` outside a header",
    ),
    RedactionPattern(
        "key-value",
        rf"(?i:(?<![A-Za-z0-9_.-])-{{0,2}}[A-Za-z0-9_.-]{{0,40}}(?:{_SECRET_WORDS})[ \t]*[=:][ \t]*)"
        r"(?P<secret>\"[^\"\x00]*\"|'[^'\x00]*'|[^\s\x00&;,\"']+)",
        "`--password=…`, `token=…`, `DB_PASSWORD=…`, `?api_key=…&`: the value after `=` or `:`",
    ),
    RedactionPattern(
        "secret-flag",
        rf"(?i:(?<![A-Za-z0-9_.-])--?[A-Za-z0-9_.-]{{0,40}}(?:{_SECRET_WORDS})(?:\x00|[ \t]+))"
        r"(?P<secret>(?!-)(?:(?<=\x00)[^\x00]+|[^\s\x00]+))",
        "`--password hunter2`, `--token abc`: the next argument (all of it), unless it is a flag",
    ),
    RedactionPattern(
        "mysql-attached-password",
        r"(?i:\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b)[^\n]*?[\s\x00]-p"
        r"(?P<secret>[^\s\x00]+)",
        "`mysql -pSECRET` (MySQL clients only: elsewhere `-p` is usually a port)",
    ),
    RedactionPattern(
        "sshpass-password",
        rf"\bsshpass{_END}+-p{_END}*(?P<secret>[^\s\x00]+)",
        "`sshpass -p SECRET` (the usual spelling, `-p` first)",
    ),
    RedactionPattern(
        "aws-access-key-id",
        r"\b(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})\b",
        "AWS access key ids",
    ),
    RedactionPattern(
        "well-known-tokens",
        r"\b(?P<secret>gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}|xox[abprs]-[A-Za-z0-9-]{10,}"
        r"|glpat-[A-Za-z0-9_-]{20,}|sk-[A-Za-z0-9_-]{32,}|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}"
        r"\.[A-Za-z0-9_-]{8,})",
        "GitHub, Slack, GitLab and API-style tokens, and JWTs",
    ),
    RedactionPattern(
        "secret-looking-value",
        r"(?<![A-Za-z0-9/+=])(?P<secret>(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])"
        r"(?=[A-Za-z0-9/+]{0,39}[0-9/+])[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        "40-character mixed-case base64 strings (AWS secret access keys); hex digests are left alone",
    ),
)


class RedactionError(ValueError):
    """A configured pattern is not a valid regular expression; the message names it."""


def _named(index: int, pattern: RedactionPattern) -> str:
    """The pattern as one alternative: wrapped in `m<i>`, its secret group renamed `s<i>`."""
    try:
        compiled = re.compile(pattern.regex)
    except re.error as exc:
        raise RedactionError(f"redaction pattern {pattern.name!r}: {exc}") from None
    if compiled.groupindex.keys() - {"secret"}:
        raise RedactionError(f"redaction pattern {pattern.name!r}: only a group named 'secret' is allowed")
    body = pattern.regex.replace("(?P<secret>", f"(?P<s{index}>")
    return f"(?P<m{index}>{body})"


class Redactor:
    """Replace secrets in command lines and argv with `MASK`, as one alternation of all patterns would."""

    def __init__(
        self,
        patterns: Iterable[RedactionPattern] = DEFAULT_PATTERNS,
        extra: Iterable[RedactionPattern | str] = (),
        max_chars: int = MAX_SCAN_CHARS,
    ) -> None:
        self.max_chars = max_chars
        extras = [p if isinstance(p, RedactionPattern) else RedactionPattern(f"extra-{i}", p)
                  for i, p in enumerate(extra)]  # fmt: skip
        self.patterns: tuple[RedactionPattern, ...] = (*patterns, *extras)
        alternatives = [_named(i, p) for i, p in enumerate(self.patterns)]
        self._has_secret = ["(?P<secret>" in p.regex for p in self.patterns]
        self._regex = re.compile("|".join(alternatives)) if alternatives else None
        defaults = set(DEFAULT_PATTERNS)
        self._scanned = [(re.compile(p.regex), p.name if p in defaults else None) for p in self.patterns]

    def _replacement(self, index: int, match: re.Match[str], secret: str, again: Callable[[str], str]) -> str:
        if not self._has_secret[index] or match.start(secret) < 0:
            return MASK
        start, end = match.span(secret)
        offset = match.start()
        whole = match.group()
        # A kept prefix can span other secrets (`mysql --password=x -pY`): redact it too.
        return again(whole[: start - offset]) + MASK + whole[end - offset :]

    def _mask(self, match: re.Match[str]) -> str:
        index = int((match.lastgroup or "")[1:])  # the alternative `m<i>` that matched
        return self._replacement(index, match, f"s{index}", self.reference_sub)

    def reference_sub(self, text: str) -> str:
        """The definition of what is redacted: `sub` with the alternation of every pattern."""
        return self._regex.sub(self._mask, text) if self._regex is not None and text else text

    def _sub(self, text: str) -> str:
        """`reference_sub`, from per-pattern finders (see `redact_scan`)."""
        if len(text) < _SHORT_CHARS:
            return self.reference_sub(text)
        found = redact_scan.matches(self._scanned, text)
        if found is None:  # a pattern matched the empty string
            return self.reference_sub(text)
        if not found:
            return text
        parts, pos = [], 0
        for index, match in found:
            parts += (text[pos : match.start()], self._replacement(index, match, "secret", self._sub))
            pos = match.end()
        parts.append(text[pos:])
        return "".join(parts)

    def redact_cmdline(self, cmdline: str) -> str:
        """The command line with every secret replaced by `MASK`."""
        if self._regex is None or not cmdline:
            return cmdline
        return self._sub(self._bounded(cmdline))

    def _bounded(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        return f"{text[: self.max_chars]}{MASK}(+{len(text) - self.max_chars} chars)"

    def redact_argv(self, argv: tuple[str, ...]) -> tuple[str, ...]:
        """argv with secrets masked; a flag's value in the next element is found too.

        Returns the same tuple object when nothing was redacted, so callers can compare by
        identity and skip re-rendering. Past `max_chars` the remaining arguments are cut.
        """
        if self._regex is None or not argv:
            return argv
        joined = _ARG_SEP.join(argv)
        redacted = self._sub(self._bounded(joined))
        return argv if redacted == joined else tuple(redacted.split(_ARG_SEP))

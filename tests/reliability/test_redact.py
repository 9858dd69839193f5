"""Secrets in command lines are masked by default; ordinary arguments are left alone."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder import redact_scan
from beholder.redact import DEFAULT_PATTERNS, MASK, MAX_SCAN_CHARS, RedactionError, RedactionPattern, Redactor
from reliability.budget import FUZZ_EXAMPLES

REDACTOR = Redactor()

CMDLINES = [
    ("psql --password=hunter2 -h db", f"psql --password={MASK} -h db"),
    ("app --password hunter2 --verbose", f"app --password {MASK} --verbose"),
    ("app --db-password='two words' x", f"app --db-password={MASK} x"),
    ("curl https://x/api?token=abc123&page=2", f"curl https://x/api?token={MASK}&page=2"),
    ("env DB_PASSWORD=s3cr3t ./run", f"env DB_PASSWORD={MASK} ./run"),
    ("curl -H Authorization: Bearer eyAbc.def", f"curl -H Authorization: Bearer {MASK}"),
    ("curl -H 'Authorization: token ghx123' u", f"curl -H 'Authorization: token {MASK}' u"),
    ("grpcurl -rpc-header bearer abcdefghijkl", f"grpcurl -rpc-header bearer {MASK}"),
    ("aws --key AKIAIOSFODNN7EXAMPLE s3 ls", f"aws --key {MASK} s3 ls"),
    ("export K=AKIAIOSFODNN7EXAMPLE", f"export K={MASK}"),
    ("s wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end", f"s {MASK} end"),
    ("git clone https://bob:pa55@git.example/r.git", f"git clone https://bob:{MASK}@git.example/r.git"),
    ("redis-cli -u redis://:pw@127.0.0.1:6379", f"redis-cli -u redis://:{MASK}@127.0.0.1:6379"),
    ("mysql -u root -pS3cret db", f"mysql -u root -p{MASK} db"),
    ("mysql --password=a -pB db", f"mysql --password={MASK} -p{MASK} db"),
    ("sshpass -p hunter2 ssh host", f"sshpass -p {MASK} ssh host"),
    ("gh --with ghp_" + "a" * 36, f"gh --with {MASK}"),
]

UNTOUCHED = [
    "/bin/true a b",
    "python3 -m http.server 8080",
    "ssh -p 2222 host",
    "git checkout 0123456789abcdef0123456789abcdef01234567",
    "app --token-file /run/secrets/token",
    "app --no-password --verbose",
    "tool --max-tokens 5",
    "ls -la /etc/passwd",
    "",
]


@pytest.mark.parametrize(("cmdline", "expected"), CMDLINES)
def test_secret_in_command_line_is_masked_and_key_kept(cmdline: str, expected: str) -> None:
    assert REDACTOR.redact_cmdline(cmdline) == expected


@pytest.mark.parametrize("cmdline", UNTOUCHED)
def test_ordinary_command_line_is_unchanged(cmdline: str) -> None:
    assert REDACTOR.redact_cmdline(cmdline) == cmdline


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("app", "--password", "two words"), ("app", "--password", MASK)),
        (("app", "--token=x y"), ("app", f"--token={MASK} y")),
        (("curl", "-H", "Authorization: Bearer abc.def"), ("curl", "-H", f"Authorization: Bearer {MASK}")),
        (("mysql", "-uroot", "-pS3cret"), ("mysql", "-uroot", f"-p{MASK}")),
    ],
)
def test_argv_flag_value_in_next_element_is_masked(argv: tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert REDACTOR.redact_argv(argv) == expected


def test_argv_without_secrets_is_returned_as_the_same_object() -> None:
    argv = ("/bin/ls", "-la", "/tmp")
    assert REDACTOR.redact_argv(argv) is argv


def test_extra_patterns_are_applied_with_the_defaults() -> None:
    redactor = Redactor(extra=[r"ACME-(?P<secret>\d{6})", r"internal-[a-z]+"])
    assert redactor.redact_cmdline("x ACME-123456 internal-abc --token t") == (
        f"x ACME-{MASK} {MASK} --token {MASK}"
    )


def test_no_patterns_means_no_redaction() -> None:
    assert Redactor(patterns=()).redact_cmdline("--password=x") == "--password=x"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (RedactionPattern("broken", "(unclosed"), "'broken'"),
        (RedactionPattern("groups", "(?P<user>a)(?P<secret>b)"), "only a group named 'secret'"),
    ],
)
def test_invalid_pattern_is_one_error_naming_it(pattern: RedactionPattern, message: str) -> None:
    with pytest.raises(RedactionError, match=message):
        Redactor(extra=[pattern])


def test_every_default_pattern_is_documented() -> None:
    assert all(p.description for p in DEFAULT_PATTERNS)
    assert len({p.name for p in DEFAULT_PATTERNS}) == len(DEFAULT_PATTERNS)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=12))
def test_argv_redaction_keeps_the_argument_count_and_masks_only(argv: list[str]) -> None:
    args = tuple(a.replace("\x00", "") for a in argv)
    redacted = REDACTOR.redact_argv(args)
    assert len(redacted) == len(args)
    for before, after in zip(args, redacted, strict=True):
        assert after == before or MASK in after


def test_kernel_sized_argv_with_a_late_secret_is_fully_scanned() -> None:
    argv = ("app", *(f"a{i}" for i in range(1500)), "--password", "x" * 2000)
    assert REDACTOR.redact_argv(argv) == (*argv[:-1], MASK)


@pytest.mark.parametrize("size", [MAX_SCAN_CHARS, 4 << 20])
def test_text_beyond_the_scan_bound_is_cut_never_passed_through(size: int) -> None:
    kept = MAX_SCAN_CHARS - len("app\0")
    assert REDACTOR.redact_argv(("app", "y" * size)) == ("app", "y" * kept + f"{MASK}(+{size - kept} chars)")
    assert REDACTOR.redact_argv(("app", "--password=" + "s" * size)) == ("app", f"--password={MASK} chars)")


# Pieces that come close to every default pattern, so random argv hit their edges often.
NEAR_MISSES = [
    "mysql", "MariaDB-dump", " -p", "-pX", "--password", "--DB-Pass", "token", "api-KEY", "=", ":", " ",
    "\t", "\n", "@", "://", "https", "u:", "Authorization:", "Bearer ", "sshpass", "AKIA", "Q" * 16,
    "ghp_", "a" * 36, "sk-", "eyJ", "x.y_z-1", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "b" * 39,
    "'", '"', "&", "-", "--", "\u212a", "\u017f", "\u0130", "\u0131", "bearer", "abcdefgh12", "git+ssh",
]  # fmt: skip
ARGS = st.lists(st.sampled_from(NEAR_MISSES) | st.text(max_size=6), max_size=8).map("".join)


@settings(max_examples=FUZZ_EXAMPLES * 10, deadline=None)
@given(st.lists(ARGS, min_size=1, max_size=10))
def test_fast_scan_redacts_exactly_what_the_one_alternation_does(argv: list[str]) -> None:
    joined = "\0".join(a.replace("\0", "") for a in argv)
    assert REDACTOR.redact_cmdline(joined) == REDACTOR.reference_sub(joined)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.lists(ARGS, min_size=1, max_size=10))
def test_fast_scan_with_extra_patterns_equals_the_alternation(argv: list[str]) -> None:
    redactor = Redactor(extra=[r"x\.y", r"(?i:MARIA)(?P<secret>db)"])
    joined = "\0".join(argv)
    assert redactor.redact_cmdline(joined) == redactor.reference_sub(joined)


def test_a_pattern_matching_the_empty_string_falls_back_to_the_alternation() -> None:
    redactor = Redactor(extra=[r"(?=token)"])
    text = "app --token abc x=1 and more text"
    assert redactor.redact_cmdline(text) == redactor.reference_sub(text)


def test_every_character_case_insensitive_patterns_match_to_an_ascii_letter_is_folded() -> None:
    letter = re.compile(r"(?i:[a-z])")
    for code in range(0x80, sys.maxunicode + 1):
        char = chr(code)
        if letter.fullmatch(char):
            folded = redact_scan.Views(char).folded
            assert re.fullmatch(f"(?i:{re.escape(folded)})", char) and folded.isascii(), hex(code)


@pytest.mark.parametrize(
    "text",
    [
        "git clone git+ssh://bob:pw@host/r 1a://u:p@h .a://u:p@h x://:p@h",
        "app --my-db-password\0secret\0--token\0--x\0"
        + "a" * 41
        + "token=v "
        + "-" * 2
        + "b" * 40
        + "pass=v",
        "mysql -u x\nmysql\t-pA\nmysqladmin -p\0-pB mariadb-dump x -pC",
        "curl -H 'Authorization: Bearer abc' bearer  abcdefgh xbearer abcdefghij sshpass\0-p\0pw",
        "A" + "b1" * 19 + "c =" + "C" + "d2" * 19 + "e " + "E" + "f3" * 19 + "g= " + "G" + "h4" * 19 + "i",
    ],
)
def test_fast_scan_equals_the_alternation_at_each_finder_edge(text: str) -> None:
    assert REDACTOR.redact_cmdline(text) == REDACTOR.reference_sub(text)
    assert MASK in REDACTOR.redact_cmdline(text)

"""Every syscall a sensor's catalogue row traces has its decoder row, and every row reads
argument words that exist: adding a syscall is its C case, its decoder row, its catalogue row."""

from __future__ import annotations

import pytest

from beholder.events.abi import RecordKind as K
from beholder.events.file_calls import FILE_CALLS, NONE
from beholder.events.net_calls import NET_CALLS
from beholder.events.syscall_args import CREDENTIAL_ARGS, STRING2, SYSCALL_ARGS
from beholder.sensors.catalog import SENSORS

ROWS = {K.FILE: FILE_CALLS, K.CHDIR: FILE_CALLS, K.NET: NET_CALLS, K.SYSCALL: SYSCALL_ARGS | CREDENTIAL_ARGS}
TRACED = sorted((name, kind) for s in SENSORS for name, kind in s.roles().items() if kind in ROWS)


@pytest.mark.parametrize(("syscall", "kind"), TRACED)
def test_every_traced_syscall_has_its_decoder_row(syscall: str, kind: int) -> None:
    assert syscall in ROWS[kind]


@pytest.mark.parametrize("syscall", sorted(FILE_CALLS))
def test_file_rows_read_words_0_to_5(syscall: str) -> None:
    call = FILE_CALLS[syscall]
    words = [call.fd, call.flags, call.mode, call.at_flags, call.remove_dir]
    words += [call.owner, call.owner + 1] if call.owner != NONE else []
    assert all(w == NONE or 0 <= w <= 5 for w in words)
    assert call.fd != NONE or not call.own_fd


@pytest.mark.parametrize("syscall", sorted(SYSCALL_ARGS))
def test_syscall_rows_read_words_0_to_5_or_the_strings(syscall: str) -> None:
    assert all(0 <= arg.source <= STRING2 for arg in SYSCALL_ARGS[syscall])


def test_net_rows_read_words_0_to_5() -> None:
    assert all(call.backlog == NONE or 0 <= call.backlog <= 5 for call in NET_CALLS.values())

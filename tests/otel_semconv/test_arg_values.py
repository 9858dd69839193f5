"""The OTLP encoder reads a syscall's arguments from the facts: numbers go to the wire as the
facts hold them, never through KubeArmor's `Data` text and back (`otel/arg_values.py`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from beholder.events import facts as f
from beholder.events.model import Event, Operation
from beholder.events.syscall_args import CREDENTIAL_ARGS, SYSCALL_ARGS, TEXT
from beholder.otel.arg_values import ARG_PREFIX, INT_ARGS, arg_values
from beholder.otel.encode import encode_logs


def test_the_encoder_does_not_load_the_kubearmor_argument_renderer() -> None:
    code = "import sys, beholder.otel.encode, beholder.otel.file_sink; print(sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "beholder.otel.encode" in loaded and "beholder.formats.arguments" not in loaded


@pytest.mark.parametrize("syscall", sorted(SYSCALL_ARGS))
def test_every_numeric_row_argument_is_an_int_attribute_and_every_text_one_a_string(syscall: str) -> None:
    for arg in SYSCALL_ARGS[syscall]:
        assert (arg.name in INT_ARGS) == (arg.style != TEXT), (syscall, arg)


def _event(syscall: str, facts: f.Facts) -> Event:
    return Event(1, Operation.SYSCALL, syscall, 0, 1, 1, 0, 0, "c", 1, facts=facts)


@pytest.mark.parametrize("syscall", sorted(SYSCALL_ARGS))
def test_row_numbers_stay_the_facts_numbers(syscall: str) -> None:
    numbers = {arg.name: -(i + 2) for i, arg in enumerate(SYSCALL_ARGS[syscall]) if arg.style != TEXT}
    values = dict(arg_values(_event(syscall, f.SyscallArgs(dict(numbers)))))
    assert values == numbers


@pytest.mark.parametrize("syscall", sorted(CREDENTIAL_ARGS))
def test_a_single_id_is_a_number_and_several_are_their_list(syscall: str) -> None:
    cred = f.Credentials(**dict.fromkeys(CREDENTIAL_ARGS[syscall], 0))
    name = "groupid" if cred.group else "userid"
    expected = {name: 0} if len(CREDENTIAL_ARGS[syscall]) == 1 else {"ids": ",".join("0" * len(cred.ids()))}
    assert dict(arg_values(_event(syscall, cred))) == expected


def test_recorded_text_of_a_call_without_a_row_is_read_as_a_number_where_the_registry_wants_one() -> None:
    recorded = f.SyscallArgs({"pid": "0x10", "flags": "AT_REMOVEDIR", "sig": "x", "comment": "7"})
    request = encode_logs([_event("setpgid", recorded)], [], {})
    attrs = request.resource_logs[0].scope_logs[0].log_records[0].attributes
    args = {a.key.removeprefix(ARG_PREFIX): a.value for a in attrs if a.key.startswith(ARG_PREFIX)}
    assert {k: v.WhichOneof("value") for k, v in args.items()} == {
        "pid": "int_value",
        "flags": "int_value",
        "sig": "string_value",
        "comment": "string_value",
    }
    assert (args["pid"].int_value, args["flags"].int_value, args["comment"].string_value) == (16, 0x200, "7")

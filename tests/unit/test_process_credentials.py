"""The process tree follows set*uid/set*gid calls; records encoded later keep the ids they
were made with (decoded from the OTLP the encoder writes)."""

from __future__ import annotations

import pytest

from beholder.enrich.enricher import Enricher
from beholder.events.facts import Credentials, FileAccess
from beholder.events.model import Event, Operation, ProcessInfo
from beholder.events.syscall_args import CREDENTIAL_ARGS
from beholder.otel import semconv as sc
from beholder.otel.encode import encode_logs

PID = 999_999_001  # no such process: the tree knows only what the test tells it


def enricher(uid: int, euid: int) -> Enricher:
    e = Enricher()
    e.tree.processes[PID] = ProcessInfo(pid=PID, uid=uid, euid=euid, gid=uid, exe="/usr/sbin/daemon")
    return e


def opened(ts: int, path: str) -> Event:
    return Event(ts, Operation.FILE, "openat", 3, PID, PID, 0, 0, "daemon", 7, kind=sc.EVENT_FILE_OPEN,
                 resource=path, facts=FileAccess(path))  # fmt: skip


def setid(ts: int, syscall: str, *ids: int, retval: int = 0) -> Event:
    named = dict(zip(CREDENTIAL_ARGS[syscall], ids, strict=True))
    return Event(ts, Operation.SYSCALL, syscall, retval, PID, PID, 0, 0, "daemon", 7,
                 kind=sc.EVENT_SYSCALL_CREDENTIALS, facts=Credentials(**named))  # fmt: skip


@pytest.mark.parametrize(
    ("uid", "euid", "call", "expected"),
    [
        (0, 0, setid(2, "setuid", 1000), (1000, 1000)),  # root: real and effective
        (1000, 0, setid(2, "setuid", 1000), (1000, 1000)),
        (1000, 1000, setid(2, "setresuid", -1, 0, -1), (1000, 0)),  # -1: unchanged
        (0, 0, setid(2, "setreuid", 33, 33), (33, 33)),
        (0, 0, setid(2, "setfsuid", 33), (0, 0)),  # neither id the records carry
        (0, 0, setid(2, "setuid", 1000, retval=-1), (0, 0)),  # refused: nothing changed
    ],
)
def test_the_tree_follows_a_successful_setuid(uid: int, euid: int, call: Event, expected) -> None:
    e = enricher(uid, euid)
    e.enrich([call])
    info = e.tree.processes[PID]
    assert (info.uid, info.euid) == expected


def test_records_before_the_call_keep_the_effective_uid_they_were_made_with() -> None:
    e = enricher(0, 0)
    batch = [opened(1, "/etc/shadow"), setid(2, "setresuid", -1, 65534, -1), opened(3, "/etc/passwd")]
    e.enrich(batch)
    records = encode_logs(batch, [], {}).resource_logs[0].scope_logs[0].log_records
    users = [{kv.key: kv.value.int_value for kv in r.attributes}.get(sc.PROCESS_USER_ID) for r in records]
    assert users == [0, 65534, 65534]


def test_setgid_by_root_changes_the_real_group() -> None:
    e = enricher(0, 0)
    e.enrich([setid(2, "setgid", 50)])
    assert e.tree.processes[PID].gid == 50

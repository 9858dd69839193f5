"""The process tree follows fork, exec, chdir and exit events without racing /proc."""

from __future__ import annotations

import json
from pathlib import Path

from beholder.enrich.enricher import Enricher
from beholder.enrich.process_tree import ProcessTree
from beholder.events import Event, Operation
from beholder.events.facts import Exec
from beholder.formats.arguments import arguments
from beholder.formats.kubearmor_in import with_facts


def event(op: Operation, syscall: str, pid: int, resource: str = "", **data: str) -> Event:
    return with_facts(Event(1, op, syscall, 0, pid, pid, 0, 0, "comm", 7, resource=resource), data)


def fake_proc(root: Path, pid: int, ppid: int, exe: str, cwd: str, uids: str = "0 0 0 0") -> None:
    base = root / str(pid)
    base.mkdir(parents=True, exist_ok=True)
    (base / "status").write_text(f"Name:\tx\nPPid:\t{ppid}\nUid:\t{uids}\nGid:\t0 0 0 0\nNSpid:\t{pid}\n")
    (base / "exe").symlink_to(exe)
    (base / "cwd").symlink_to(cwd)
    (base / "cmdline").write_bytes(exe.encode() + b"\0")


def enricher_over(proc: Path) -> tuple[ProcessTree, Enricher]:
    """A tree and an enricher reading the fake /proc under `proc`, bootstrapped from it."""
    tree = ProcessTree(proc=proc)
    enricher = Enricher(tree=tree)
    enricher.containers.proc = proc
    tree.bootstrap()
    return tree, enricher


def test_fork_exec_chdir_exit(tmp_path: Path) -> None:
    fake_proc(tmp_path, 100, 1, "/usr/bin/bash", "/home")
    tree, enricher = enricher_over(tmp_path)
    fork = event(Operation.PROCESS, "fork", 100, "101", parent_pid="100", child_pid="101")
    chdir = event(Operation.FILE, "chdir", 101, "/srv")
    exe = Event(
        2, Operation.PROCESS, "execve", 0, 101, 101, 0, 0, "cat", 7, resource="bin/cat", argv=("cat", "x")
    )
    opened = event(Operation.FILE, "openat", 101, "x", fd="-100", flags="O_RDONLY")
    enricher.enrich([fork, chdir, exe, opened])
    child = tree.processes[101]
    assert child.ppid == 100 and child.parent_exe == "/usr/bin/bash"
    assert child.cwd == "/srv"
    assert child.exe == "/srv/bin/cat" and child.cmdline == "cat x"
    assert opened.resource == "/srv/x"
    assert opened.process is child and exe.process == child  # an exec's event: the process as it left it


def test_a_wrapper_keeps_its_own_exec_when_its_successor_follows_in_the_batch(tmp_path: Path) -> None:
    """pg_wrapper (or a docker-entrypoint script) execs the real program in the same pid
    within microseconds; both execs arrive in one batch and rules read it afterwards."""
    enricher = Enricher(tree=ProcessTree(proc=tmp_path))
    enricher.containers.proc = tmp_path
    wrapper = Event(
        1,
        Operation.PROCESS,
        "execve",
        0,
        9,
        9,
        0,
        0,
        "psql",
        1,
        resource="/usr/bin/psql",
        argv=("psql", "-l"),
    )
    path = "/usr/lib/postgresql/15/bin/psql"
    real = Event(2, Operation.PROCESS, "execve", 0, 9, 9, 0, 0, "psql", 1, resource=path, argv=(path, "-l"))
    enricher.enrich([wrapper, real])
    assert wrapper.process is not None and wrapper.process.exe == "/usr/bin/psql"
    assert wrapper.process.cmdline == "psql -l"
    assert real.process is not None and real.process.exe == path


def test_reexec_of_proc_self_exe_keeps_the_binary(tmp_path: Path) -> None:
    tree = ProcessTree(proc=tmp_path)
    enricher = Enricher(tree=tree)
    enricher.containers.proc = tmp_path
    first = Event(
        1, Operation.PROCESS, "execve", 0, 5, 5, 0, 0, "sh", 1, resource="/bin/busybox", argv=("sh",)
    )
    again = Event(
        2, Operation.PROCESS, "execve", 0, 5, 5, 0, 0, "ls", 1, resource="/proc/self/exe", argv=("ls",)
    )
    enricher.enrich([first, again])
    assert tree.processes[5].exe == "/bin/busybox"
    assert tree.processes[5].cmdline == "ls"


def test_exited_processes_are_reaped_after_the_grace_period(tmp_path: Path) -> None:
    tree = ProcessTree(proc=tmp_path)
    tree.get(9)
    tree.on_exit(9)
    assert 9 in tree.processes
    assert tree.reap(now=10**9) == 1 and 9 not in tree.processes


def test_tree_is_bounded(tmp_path: Path) -> None:
    tree = ProcessTree(max_size=100, proc=tmp_path)
    for pid in range(1, 1000):
        tree.get(pid)
    assert len(tree.processes) <= 100


def test_relative_paths_become_absolute_when_the_dirfd_or_the_process_is_gone(tmp_path: Path) -> None:
    """file.path is always absolute: an unreadable dirfd falls back to the cwd, an unknown cwd to /."""
    fake_proc(tmp_path, 200, 1, "/usr/bin/app", "/srv")
    enricher = Enricher(tree=ProcessTree(proc=tmp_path))
    enricher.containers.proc = tmp_path
    at_gone_dirfd = event(Operation.FILE, "openat", 200, "data/x", fd="7", flags="O_RDONLY")
    renamed = event(Operation.FILE, "renameat2", 200, "a", fd="-100", newpath="b")
    unknown_process = event(Operation.FILE, "openat", 300, "y", fd="-100", flags="O_RDONLY")
    enricher.enrich([at_gone_dirfd, renamed, unknown_process])
    assert at_gone_dirfd.resource == at_gone_dirfd.facts.path == "/srv/data/x"
    assert (renamed.facts.path, renamed.facts.new_path, arguments(renamed)["newpath"]) == (
        "/srv/a",
        "/srv/b",
        "/srv/b",
    )
    assert unknown_process.resource == unknown_process.facts.path == "/y"


def test_command_lines_read_from_proc_are_redacted_on_every_path(tmp_path: Path) -> None:
    """A process first seen after start (no exec seen) still has its secrets masked everywhere."""
    from beholder.events.interfaces import HostIdentity
    from beholder.formats.kubearmor import to_kubearmor
    from beholder.otel import jsonwire
    from beholder.otel.encode import LogEncoder
    from beholder.redact import Redactor

    enricher = Enricher(tree=ProcessTree(proc=tmp_path), redactor=Redactor())
    enricher.containers.proc = tmp_path
    enricher.start()
    fake_proc(tmp_path, 400, 1, "/usr/bin/app", "/")
    (tmp_path / "400" / "cmdline").write_bytes(b'app\0"--password=hunter2"\0')
    fake_proc(tmp_path, 401, 1, "/usr/bin/app", "/")
    (tmp_path / "401" / "cmdline").write_bytes(b"app\0--token=hunter2\0")
    opened = event(Operation.FILE, "openat", 400, "/etc/hosts", fd="-100", flags="O_RDONLY")
    argvless_exec = Event(
        1, Operation.PROCESS, "execve", 0, 401, 401, 0, 0, "app", 7, resource="/usr/bin/app"
    )
    enricher.enrich([opened, argvless_exec])
    for ev in (opened, argvless_exec):
        assert "hunter2" not in ev.process.cmdline and "[REDACTED]" in ev.process.cmdline
        assert "hunter2" not in json.dumps(to_kubearmor(ev, HostIdentity(host_name="n")))
        assert b"hunter2" not in LogEncoder(jsonwire).encode([ev], [], {})


def _nspid(root: Path, pid: int, *nspids: int) -> None:
    status = root / str(pid) / "status"
    status.write_text(status.read_text().replace(f"NSpid:\t{pid}", "NSpid:\t" + "\t".join(map(str, nspids))))


def test_a_containers_pid_1_has_ns_ppid_0_and_its_children_pid_1(tmp_path: Path) -> None:
    fake_proc(tmp_path, 50, 1, "/usr/sbin/runc", "/")  # `runc run`, on the host
    fake_proc(tmp_path, 60, 50, "/bin/sh", "/")  # the container's first process
    fake_proc(tmp_path, 61, 60, "/bin/sleep", "/")
    _nspid(tmp_path, 60, 60, 1)
    _nspid(tmp_path, 61, 61, 2)
    tree = ProcessTree(proc=tmp_path)
    tree.bootstrap()
    init, child, runc = tree.processes[60], tree.processes[61], tree.processes[50]
    assert (init.ns_pid, init.ns_ppid, init.parent_exe) == (1, 0, "/usr/sbin/runc")
    assert (child.ns_pid, child.ns_ppid) == (2, 1)
    assert runc.ns_ppid == 1  # host processes keep host pids


def test_container_init_learned_at_exec_has_ns_ppid_0(tmp_path: Path) -> None:
    fake_proc(tmp_path, 50, 1, "/usr/sbin/runc", "/")
    tree = ProcessTree(proc=tmp_path)
    tree.bootstrap()
    fake_proc(tmp_path, 60, 50, "/bin/sh", "/")
    _nspid(tmp_path, 60, 60, 1)
    tree.on_fork(50, 60, event(Operation.PROCESS, "fork", 50))
    info = tree.on_exec(Event(3, Operation.PROCESS, "execve", 0, 60, 60, 0, 0, "sh", 7, resource="/bin/sh"))
    assert (info.ns_pid, info.ns_ppid) == (1, 0)


def test_an_exec_whose_parent_the_tree_never_learned_still_names_the_parent(tmp_path: Path) -> None:
    tree = ProcessTree(proc=tmp_path)
    tree.bootstrap()  # empty: the parent appears after the bootstrap, its fork unseen
    fake_proc(tmp_path, 70, 1, "/usr/bin/bash", "/")
    fake_proc(tmp_path, 71, 70, "/bin/ls", "/")
    info = tree.on_exec(Event(3, Operation.PROCESS, "execve", 0, 71, 71, 0, 0, "ls", 7, resource="/bin/ls"))
    assert (info.ppid, info.parent_exe) == (70, "/usr/bin/bash")
    assert tree.processes[70].exe == "/usr/bin/bash"


def _exec(pid: int, path: str) -> Event:
    return Event(3, Operation.PROCESS, "execve", 0, pid, pid, 0, 0, "x", 7, resource=path, facts=Exec(path))


def test_exec_names_the_calling_binary_not_the_parent(tmp_path: Path) -> None:
    fake_proc(tmp_path, 100, 1, "/usr/bin/python3", "/")
    tree, enricher = enricher_over(tmp_path)
    fork = event(Operation.PROCESS, "fork", 100, "101", parent_pid="100", child_pid="101")
    bash, date = _exec(101, "/usr/bin/bash"), _exec(101, "/usr/bin/date")  # bash -c date: no fork
    enricher.enrich([fork, bash, date])
    assert isinstance(bash.facts, Exec) and bash.facts.caller == "/usr/bin/python3"
    assert isinstance(date.facts, Exec) and date.facts.caller == "/usr/bin/bash"
    assert tree.processes[101].parent_exe == "/usr/bin/python3"


def test_a_caller_first_seen_at_its_exec_is_witnessed_by_its_live_parent(tmp_path: Path) -> None:
    _, enricher = enricher_over(tmp_path)
    fake_proc(tmp_path, 200, 1, "/usr/sbin/cron", "/")  # started after the agent: unknown to the tree
    fake_proc(tmp_path, 201, 200, "/usr/bin/date", "/")  # already shows the new image
    date = _exec(201, "/usr/bin/date")
    enricher.enrich([date])
    assert isinstance(date.facts, Exec) and date.facts.caller == "/usr/sbin/cron"


def test_the_effective_uid_is_read_at_exec_where_set_user_id_programs_change_it(tmp_path: Path) -> None:
    fake_proc(tmp_path, 100, 1, "/usr/bin/bash", "/home", uids="1000 1000 1000 1000")
    tree = ProcessTree(proc=tmp_path)
    tree.bootstrap()
    assert (tree.processes[100].uid, tree.processes[100].euid) == (1000, 1000)
    (tmp_path / "100" / "status").write_text("Name:\tsudo\nPPid:\t1\nUid:\t1000 0 0 0\nNSpid:\t100\n")
    tree.on_exec(event(Operation.PROCESS, "execve", 100, "/usr/bin/sudo"))
    assert tree.processes[100].euid == 0


def test_runc_init_from_its_sealed_memfd_copy_is_named_runc_and_so_is_every_parent_it_gives(
    tmp_path: Path,
) -> None:
    fake_proc(tmp_path, 80, 1, "/usr/sbin/runc", "/")  # `runc exec`
    tree, enricher = enricher_over(tmp_path)
    fork = event(Operation.PROCESS, "fork", 80, "81", parent_pid="80", child_pid="81")
    init = Event(
        3,
        Operation.PROCESS,
        "execve",
        0,
        81,
        81,
        0,
        0,
        "runc",
        7,
        resource="/proc/self/exe",
        argv=("runc", "init"),
        facts=Exec("/proc/self/exe"),
    )
    # then execveat(memfd, "", AT_EMPTY_PATH): runc's copy of itself, gone from /proc by now
    sealed = Event(
        4,
        Operation.PROCESS,
        "execveat",
        0,
        81,
        81,
        0,
        0,
        "runc",
        7,
        resource="",
        argv=("runc", "init"),
        facts=Exec("", 7),
    )
    stage = event(Operation.PROCESS, "fork", 81, "82", parent_pid="81", child_pid="82")
    cat = _exec(82, "/bin/cat")  # what `runc exec` runs: exits before /proc is read
    enricher.enrich([fork, init, sealed, stage, cat])
    assert tree.processes[81].exe == "/usr/sbin/runc"
    assert sealed.resource == "/usr/sbin/runc"
    assert cat.process is not None and cat.process.parent_exe == "/usr/sbin/runc"


def test_a_fileless_exec_from_a_memfd_keeps_its_memfd_name(tmp_path: Path) -> None:
    fake_proc(tmp_path, 90, 1, "/usr/bin/python3", "/")
    tree, enricher = enricher_over(tmp_path)
    (tmp_path / "90" / "exe").unlink()
    (tmp_path / "90" / "exe").symlink_to("/memfd:payload (deleted)")  # what /proc shows after fexecve
    fileless = Event(
        3,
        Operation.PROCESS,
        "execveat",
        0,
        90,
        90,
        0,
        0,
        "python3",
        7,
        resource="",
        argv=("python3", "-c", "x"),
        facts=Exec("", 4),
    )
    enricher.enrich([fileless])
    assert tree.processes[90].exe == "/memfd:payload"
    assert fileless.resource == "/memfd:payload"

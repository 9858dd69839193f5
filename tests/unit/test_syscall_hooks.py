"""Which tracepoints carry the traced syscalls: one per syscall unless counting needs every
call, or the kernel lacks one for a syscall it implements (then raw_syscalls, said why)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from beholder.events.abi import RecordKind, Role
from beholder.sensors import kernel
from beholder.sensors.syscall_hooks import SyscallHooks, choose_hooks, syscall_tracepoints

ROLES = {"openat": int(RecordKind.FILE), "clone": int(Role.CLONE), "init_module": int(RecordKind.SYSCALL)}
ARGS = {
    "openat": ("int dfd", "const char * filename", "int flags", "umode_t mode"),
    "clone": ("unsigned long clone_flags",),
}


def _event(root: Path, name: str, fields: tuple[str, ...]) -> None:
    directory = root / "events" / "syscalls" / name
    directory.mkdir(parents=True)
    lines = ["\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;"]
    lines += [f"\tfield:{decl};\toffset:{16 + 8 * i};\tsize:8;\tsigned:0;" for i, decl in enumerate(fields)]
    (directory / "format").write_text(f"name: {name}\nformat:\n" + "\n".join(lines) + "\n")


@pytest.fixture
def tracing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A tracefs with openat's and clone's syscall events, none for init_module, and a
    kallsyms in which init_module is a weak stub (a kernel without module support)."""
    root = tmp_path / "tracing"
    for name, fields in ARGS.items():
        _event(root, f"sys_enter_{name}", fields)
        _event(root, f"sys_exit_{name}", ("long ret",))
    kallsyms = tmp_path / "kallsyms"
    kallsyms.write_text(
        "ffffffff816d4cb0 T __x64_sys_openat\n"
        "ffffffff81398340 W __x64_sys_init_module\n"
        "ffffffff81312750 T __x64_sys_ni_syscall\n"
        "ffffffff81312800 t __do_sys_clone\n"
        "ffffffff81312900 T __x64_sys_clone\n"
    )
    monkeypatch.setattr(kernel, "TRACEFS_CANDIDATES", (root,))
    monkeypatch.setattr(kernel, "KALLSYMS", kallsyms)
    kernel.tracefs.cache_clear()
    yield kallsyms
    kernel.tracefs.cache_clear()


def test_exit_is_hooked_only_for_roles_completed_there() -> None:
    assert syscall_tracepoints("openat", RecordKind.FILE) == (
        "syscalls/sys_enter_openat",
        "syscalls/sys_exit_openat",
    )
    assert syscall_tracepoints("clone", Role.CLONE) == ("syscalls/sys_enter_clone",)
    assert syscall_tracepoints("umount2", RecordKind.SYSCALL)[0] == "syscalls/sys_enter_umount"


@pytest.mark.usefixtures("tracing")
def test_a_stub_syscall_is_left_out_and_the_rest_is_hooked_one_by_one() -> None:
    hooks = choose_hooks(ROLES, counting=False)
    assert not hooks.raw
    assert dict(hooks.roles) == {"openat": RecordKind.FILE, "clone": Role.CLONE}
    assert hooks.absent == ("init_module",)
    assert hooks.describe() == "3 per-syscall tracepoints for 2 syscalls; not in this kernel: init_module"


def test_counting_every_syscall_needs_the_raw_pair() -> None:
    hooks = choose_hooks(ROLES, counting=True)
    assert hooks.raw and hooks.source() == ""
    assert "counting" in hooks.describe()


def test_a_missing_tracepoint_of_an_implemented_syscall_falls_back_to_raw(tracing: Path) -> None:
    tracing.write_text("ffffffff81398340 T __x64_sys_init_module\n")  # implemented, yet no event
    hooks = choose_hooks(ROLES, counting=False)
    assert hooks.raw_reason == "tracepoint syscalls/sys_enter_init_module not available"


def test_unreadable_kallsyms_never_drops_a_syscall(tracing: Path) -> None:
    tracing.unlink()
    assert choose_hooks(ROLES, counting=False).raw


@pytest.mark.usefixtures("tracing")
def test_enter_probes_copy_only_the_arguments_the_record_holds() -> None:
    """The kernel refuses to attach a program that reads past the tracepoint's record."""
    source = SyscallHooks({"openat": RecordKind.FILE, "clone": Role.CLONE}).source().splitlines()
    assert source == [
        "TRACEPOINT_PROBE(syscalls, sys_enter_clone) { struct sc_enter a = {}; "
        f"__builtin_memcpy(&a, args, 24); return sc_enter(&a, {int(Role.CLONE)}); }}",
        "TRACEPOINT_PROBE(syscalls, sys_enter_openat) { struct sc_enter a = {}; "
        f"__builtin_memcpy(&a, args, 48); return sc_enter(&a, {int(RecordKind.FILE)}); }}",
        "TRACEPOINT_PROBE(syscalls, sys_exit_openat) "
        f"{{ return sc_exit((struct sc_exit *)args, {int(RecordKind.FILE)}); }}",
    ]

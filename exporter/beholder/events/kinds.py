"""Event kinds (`Event.kind`): the event names of semconv/registry. Generated; do not edit.

The decoder sets a kind on every event and consumers switch on it. Regenerate with
`beholder semconv generate`; a test fails when this file is stale.
"""

from __future__ import annotations

from typing import Final

PROCESS_EXEC: Final = "beholder.process.exec"
PROCESS_FORK: Final = "beholder.process.fork"
PROCESS_EXIT: Final = "beholder.process.exit"
FILE_OPEN: Final = "beholder.file.open"
FILE_UNLINK: Final = "beholder.file.unlink"
FILE_RENAME: Final = "beholder.file.rename"
FILE_CHMOD: Final = "beholder.file.chmod"
FILE_CHOWN: Final = "beholder.file.chown"
FILE_LINK: Final = "beholder.file.link"
FILE_CHDIR: Final = "beholder.file.chdir"
NETWORK_SOCKET: Final = "beholder.network.socket"
NETWORK_CONNECT: Final = "beholder.network.connect"
NETWORK_BIND: Final = "beholder.network.bind"
NETWORK_LISTEN: Final = "beholder.network.listen"
NETWORK_ACCEPT: Final = "beholder.network.accept"
NETWORK_TCP_STATE: Final = "beholder.network.tcp_state"
NETWORK_DNS: Final = "beholder.network.dns"
SYSCALL_CREDENTIALS: Final = "beholder.syscall.credentials"
SYSCALL_PTRACE: Final = "beholder.syscall.ptrace"
SYSCALL_MOUNT: Final = "beholder.syscall.mount"
SYSCALL_NAMESPACE: Final = "beholder.syscall.namespace"
SYSCALL_SIGNAL: Final = "beholder.syscall.signal"
SYSCALL_BPF: Final = "beholder.syscall.bpf"
SYSCALL_MODULE: Final = "beholder.syscall.module"
SYSCALL_MEMFD: Final = "beholder.syscall.memfd"
SYSCALL_IO_URING: Final = "beholder.syscall.io_uring"
SYSCALL_OTHER: Final = "beholder.syscall.other"
CAPABILITY_CHECK: Final = "beholder.capability.check"

# Operation -> syscall or hook -> kind; anything else is FALLBACK.

KIND_BY_SYSCALL: Final[dict[str, dict[str, str]]] = {
    "Process": {
        "execve": "beholder.process.exec",
        "execveat": "beholder.process.exec",
        "fork": "beholder.process.fork",
        "vfork": "beholder.process.fork",
        "clone": "beholder.process.fork",
        "clone3": "beholder.process.fork",
        "exit": "beholder.process.exit",
        "exit_group": "beholder.process.exit",
    },
    "File": {
        "open": "beholder.file.open",
        "openat": "beholder.file.open",
        "openat2": "beholder.file.open",
        "creat": "beholder.file.open",
        "unlink": "beholder.file.unlink",
        "unlinkat": "beholder.file.unlink",
        "rmdir": "beholder.file.unlink",
        "rename": "beholder.file.rename",
        "renameat": "beholder.file.rename",
        "renameat2": "beholder.file.rename",
        "chmod": "beholder.file.chmod",
        "fchmod": "beholder.file.chmod",
        "fchmodat": "beholder.file.chmod",
        "fchmodat2": "beholder.file.chmod",
        "chown": "beholder.file.chown",
        "lchown": "beholder.file.chown",
        "fchown": "beholder.file.chown",
        "fchownat": "beholder.file.chown",
        "link": "beholder.file.link",
        "linkat": "beholder.file.link",
        "symlink": "beholder.file.link",
        "symlinkat": "beholder.file.link",
        "chdir": "beholder.file.chdir",
        "fchdir": "beholder.file.chdir",
    },
    "Network": {
        "socket": "beholder.network.socket",
        "connect": "beholder.network.connect",
        "bind": "beholder.network.bind",
        "listen": "beholder.network.listen",
        "accept": "beholder.network.accept",
        "accept4": "beholder.network.accept",
        "tcp_state": "beholder.network.tcp_state",
        "sendto": "beholder.network.dns",
        "sendmsg": "beholder.network.dns",
        "sendmmsg": "beholder.network.dns",
        "write": "beholder.network.dns",
    },
    "Syscall": {
        "setuid": "beholder.syscall.credentials",
        "setgid": "beholder.syscall.credentials",
        "setreuid": "beholder.syscall.credentials",
        "setregid": "beholder.syscall.credentials",
        "setresuid": "beholder.syscall.credentials",
        "setresgid": "beholder.syscall.credentials",
        "setfsuid": "beholder.syscall.credentials",
        "setfsgid": "beholder.syscall.credentials",
        "ptrace": "beholder.syscall.ptrace",
        "mount": "beholder.syscall.mount",
        "umount2": "beholder.syscall.mount",
        "chroot": "beholder.syscall.mount",
        "pivot_root": "beholder.syscall.mount",
        "unshare": "beholder.syscall.namespace",
        "setns": "beholder.syscall.namespace",
        "kill": "beholder.syscall.signal",
        "tkill": "beholder.syscall.signal",
        "tgkill": "beholder.syscall.signal",
        "bpf": "beholder.syscall.bpf",
        "init_module": "beholder.syscall.module",
        "finit_module": "beholder.syscall.module",
        "delete_module": "beholder.syscall.module",
        "memfd_create": "beholder.syscall.memfd",
        "io_uring_setup": "beholder.syscall.io_uring",
    },
    "Capabilities": {
        "cap_capable": "beholder.capability.check",
    },
}
FALLBACK: Final = "beholder.syscall.other"


def kind_of(operation: str, syscall: str) -> str:
    """The kind of an event of this KubeArmor operation and syscall (readers of records)."""
    return KIND_BY_SYSCALL.get(operation, {}).get(syscall, FALLBACK)

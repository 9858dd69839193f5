"""Typed facts of an event, filled once by whoever creates the event (decoder or a reader).

Numbers stay numbers; names (`AF_INET`, `SOCK_STREAM`, `CAP_SYS_ADMIN`) are derived from them
on demand. Which class `Event.facts` holds follows from `Event.kind`. Slots dataclasses keep
creation cheap on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass

from beholder.events.decoding import capability_name, family_name, open_flags, socket_type

AF_UNIX, AF_INET, AF_INET6, AF_PACKET = 1, 2, 10, 17
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW = 1, 2, 3
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6 = 1, 6, 17, 58
INET_FAMILIES = frozenset({AF_INET, AF_INET6})


@dataclass(slots=True)
class Endpoint:
    """One end of a connection: an IP address and port, a unix path, or a netlink pid."""

    family: int
    ip: str = ""
    port: int | None = None
    path: str = ""  # AF_UNIX; abstract names start with "@"
    nl_pid: int | None = None  # AF_NETLINK
    nl_groups: int | None = None

    @property
    def family_name(self) -> str:
        return family_name(self.family)

    @property
    def address(self) -> str:
        """The IP or the unix path: what OTel's `*.address` attributes hold."""
        return self.ip or self.path


@dataclass(slots=True)
class Socket:
    """socket(2): the fd it returned and its (family, type, protocol) numbers."""

    family: int
    type: int
    protocol: int
    fd: int | None = None

    @property
    def family_name(self) -> str:
        return family_name(self.family)

    @property
    def type_name(self) -> str:
        return socket_type(self.type)

    @property
    def transport(self) -> str:
        """KubeArmor's protocol name (tcp, udp, icmp, raw) for inet sockets; "" otherwise."""
        if self.family not in INET_FAMILIES:
            return ""
        base = self.type & 0xF
        if base == SOCK_RAW:
            return "icmp" if self.protocol in (IPPROTO_ICMP, IPPROTO_ICMPV6) else "raw"
        if base == SOCK_STREAM and self.protocol in (0, IPPROTO_TCP):
            return "tcp"
        if base == SOCK_DGRAM:
            if self.protocol in (0, IPPROTO_UDP):
                return "udp"
            if self.protocol in (IPPROTO_ICMP, IPPROTO_ICMPV6):
                return "icmp"  # unprivileged ping sockets
        return ""


@dataclass(slots=True)
class SocketCall:
    """connect/bind/accept/listen on an fd, with the address the call named (if any)."""

    fd: int
    endpoint: Endpoint | None = None
    new_fd: int | None = None  # accept's returned fd
    backlog: int | None = None  # listen
    transport: str = ""  # TCP/UDP when the source named it (KubeArmor's kprobe records)


@dataclass(slots=True)
class DnsQuestion:
    """A DNS question as it left the process, and the server it was sent to when named."""

    fd: int
    name: str | None  # None when the payload did not parse
    type: str = ""
    server: Endpoint | None = None


@dataclass(slots=True)
class TcpState:
    """A TCP socket changed state (the kernel's view: both ends and both states)."""

    local: Endpoint
    peer: Endpoint
    old_state: int
    new_state: int


@dataclass(slots=True, init=False)
class FileAccess:
    """A file-system call: the path it names (absolute once enriched) and its arguments."""

    path: str
    dirfd: int | None = None  # the *at() directory fd, or the fd of f*() calls
    flags: int | None = None  # open flags
    mode: int | None = None  # permission bits (open with O_CREAT, creat, chmod)
    new_path: str = ""  # rename/link destination; symlink's link is `path`
    target: str = ""  # symlink target
    owner_uid: int | None = None  # chown family
    owner_gid: int | None = None
    remove_dir: bool = False  # unlinkat(AT_REMOVEDIR)
    at_flags: int | None = None  # fchownat's AT_* flags (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH)

    # Written out for the reason given at `model.Event.__init__`: one per file event.
    def __init__(
        self,
        path: str,
        dirfd: int | None = None,
        flags: int | None = None,
        mode: int | None = None,
        new_path: str = "",
        target: str = "",
        owner_uid: int | None = None,
        owner_gid: int | None = None,
        remove_dir: bool = False,
        at_flags: int | None = None,
    ) -> None:
        self.path = path
        self.dirfd = dirfd
        self.flags = flags
        self.mode = mode
        self.new_path = new_path
        self.target = target
        self.owner_uid = owner_uid
        self.owner_gid = owner_gid
        self.remove_dir = remove_dir
        self.at_flags = at_flags

    @property
    def flags_text(self) -> str:
        return open_flags(self.flags) if self.flags is not None else ""

    @property
    def read_only(self) -> bool:
        """Opened for reading only (O_RDONLY); other calls write or change the file."""
        return self.flags is not None and self.flags & 3 == 0


@dataclass(slots=True)
class Exec:
    """execve/execveat: the program path (the event's resource) and the dirfd of execveat.

    `caller` is the binary that made the call (the image before the exec: `bash -c date`
    execs date from bash itself), filled by the enrich stage; KubeArmor's `fromSource`
    names it.
    """

    path: str
    dirfd: int | None = None
    caller: str = ""


@dataclass(slots=True)
class Fork:
    parent_pid: int
    child_pid: int


@dataclass(slots=True)
class Exit:
    code: int | None  # None: killed by a signal, or no exit_group seen


@dataclass(slots=True)
class Capability:
    number: int

    @property
    def name(self) -> str:
        return capability_name(self.number)


@dataclass(slots=True)
class Credentials:
    """set*id: the ids the call asks for, by name; -1 leaves one unchanged, None: the call
    does not set it (`events.syscall_args.CREDENTIAL_ARGS` says which call sets which)."""

    uid: int | None = None
    euid: int | None = None
    suid: int | None = None  # saved set-user-id (setresuid)
    fsuid: int | None = None
    gid: int | None = None
    egid: int | None = None
    sgid: int | None = None
    fsgid: int | None = None

    def ids(self) -> tuple[int, ...]:
        """The ids the call set, in its argument order."""
        every = (self.uid, self.euid, self.suid, self.fsuid, self.gid, self.egid, self.sgid, self.fsgid)
        return tuple(i for i in every if i is not None)

    @property
    def group(self) -> bool:
        """A set*gid call (it sets no user id)."""
        return self.uid is None and self.euid is None and self.suid is None and self.fsuid is None


@dataclass(slots=True)
class SyscallArgs:
    """Other syscalls of the syscall sensor: the arguments that matter, by name, as numbers or text."""

    values: dict[str, int | str]


Facts = (
    Endpoint
    | Socket
    | SocketCall
    | DnsQuestion
    | TcpState
    | FileAccess
    | Exec
    | Fork
    | Exit
    | Capability
    | Credentials
    | SyscallArgs
)

"""The Kubescape node-agent anomaly rule catalogue, evaluated over Beholder events.

Ids, names, severities, MITRE ids, tags and default on/off follow node-agent's current
`node-agent-default-rules.yaml` (a test compares them field by field). The CEL expressions there
are re-expressed as small Python predicates over one `Facts` view of the event.

Limits of what the kernel sensors give us, stated where they matter:
- R1001 (drifted binary) and R1004 (exec from mount) read the container's mounts
  (`enrich/mounts.py`: the overlay root's `upperdir=` and the volume mount points from
  `/proc/<pid>/mountinfo`); both stay silent where no provider gives them.
- R1007 (RandomX miner): Kubescape reads the MXCSR register from the `struct fpu` that the
  `x86_fpu_regs_deactivated` tracepoint points to (its only other fields are xfeatures
  and xcomp_bv). That needs kernel struct offsets (BTF), which our sensors do not read,
  and the tracepoint fires on every FPU context switch, so it cannot go to Python per
  event. The rule fires on a `randomx` event that such a kernel-side filter would emit
  once per process.
- R1011 (LD_PRELOAD) sees writes to `/etc/ld.so.preload`; the exec half needs the
  process environment, which the sensors do not read.
- R1030 (io_uring) sees `io_uring_setup`, not individual submitted opcodes.
- Attempts: an exec, open, connect, bpf() or module load the kernel refused (EPERM,
  EACCES: a noexec mount, file modes, a firewall) is judged exactly as one it allowed,
  and the alert's message ends with the refusal (`(refused: EACCES)`). A connect the
  remote refused or that timed out also left the container. Calls that found nothing
  (ENOENT, ENOTDIR: `execvp` walking $PATH, the loader probing library paths) are not
  attempts on anything and are not judged.
- BH-METADATA is Beholder's own: a connect to a cloud metadata service (AWS/GCP/Azure
  169.254.169.254, AWS IPv6 fd00:ec2::254, ECS 169.254.170.2, Alibaba 100.100.100.200)
  the profile's egress never had.
- R0040 (unexpected exec arguments) is the `was_executed_with_args` check (args `⋯`,
  `⋯⋯`, `argsRequired`) that BoB profiles carry.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field

from beholder.bob.behaviour import Behaviour
from beholder.enrich.mounts import ContainerMounts
from beholder.events import kinds
from beholder.events.abi import RecordKind
from beholder.events.decoding import open_flag_names
from beholder.events.facts import Capability, DnsQuestion, FileAccess, SocketCall, SyscallArgs
from beholder.events.model import Event, Operation
from beholder.events.needs import NOTHING, Needs, calls_of

RUNTIME_INIT = ("runc:[",)
REFUSED = frozenset({-errno.EPERM, -errno.EACCES})
CONNECT_ATTEMPTS = REFUSED | {0, -errno.EINPROGRESS, -errno.ECONNREFUSED, -errno.ETIMEDOUT,
                              -errno.ENETUNREACH, -errno.EHOSTUNREACH}  # fmt: skip
SYSCALL_KINDS = {
    "bpf": "bpf",
    "init_module": "kmod",
    "finit_module": "kmod",
    "unshare": "unshare",
    "ptrace": "ptrace",
    "io_uring_setup": "iouring",
    "randomx": "randomx",
}
PTRACE_WRITE_REQUESTS = frozenset({4, 5, 13})  # POKETEXT, POKEDATA, SETREGS
BPF_PROG_LOAD = 5
CLOUD_METADATA = frozenset({"169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200"})
SA_TOKEN_PREFIXES = (
    "/run/secrets/kubernetes.io/serviceaccount",
    "/var/run/secrets/kubernetes.io/serviceaccount",
    "/run/secrets/eks.amazonaws.com/serviceaccount",
    "/var/run/secrets/eks.amazonaws.com/serviceaccount",
)
R0002_PREFIXES = (
    "/etc/", "/var/log/", "/var/run/", "/run/", "/var/spool/cron/", "/var/www/", "/var/lib/",
    "/opt/", "/usr/local/", "/app/",
)  # fmt: skip
R0002_EXACT = ("/.dockerenv", "/proc/self/environ")
R0002_EXCLUDED = (
    "/run/secrets/kubernetes.io/serviceaccount",
    "/var/run/secrets/kubernetes.io/serviceaccount",
    "/tmp",
)
# node-agent's sensitive files (its Go R0010's list; the CEL catalogue keeps /etc/shadow for
# opens and adds /etc/sudoers for links): a prefix each, so /etc/shadow- and /etc/sudoers.d/ count
SENSITIVE_FILES = ("/etc/shadow", "/etc/sudoers", "/etc/ssh/ssh_config", "/etc/ssh/sshd_config")
# where a pod commonly mounts the node's /etc with a hostPath volume: /host-etc/shadow is the
# node's /etc/shadow
HOST_ETC_MOUNTS = ("/host-etc/", "/host/etc/", "/hostfs/etc/", "/rootfs/etc/")
MINER_PORTS = frozenset({3333, 45700})
SELF_EXE = "/proc/self/exe"
MEMFD_FD_PATH = re.compile(r"/proc/[0-9]+/fd/[0-9]+")
CRYPTO_MINING_DOMAINS = frozenset(
    """2cryptocalc.com 2miners.com antpool.com asia1.ethpool.org bohemianpool.com botbox.dev
    btm.antpool.com c3pool.com c4pool.org ca.minexmr.com cn.stratum.slushpool.com dash.antpool.com
    data.miningpoolstats.stream de.minexmr.com eth-ar.dwarfpool.com eth-asia.dwarfpool.com
    eth-asia1.nanopool.org eth-au.dwarfpool.com eth-au1.nanopool.org eth-br.dwarfpool.com
    eth-cn.dwarfpool.com eth-cn2.dwarfpool.com eth-eu.dwarfpool.com eth-eu1.nanopool.org
    eth-eu2.nanopool.org eth-hk.dwarfpool.com eth-jp1.nanopool.org eth-ru.dwarfpool.com
    eth-ru2.dwarfpool.com eth-sg.dwarfpool.com eth-us-east1.nanopool.org eth-us-west1.nanopool.org
    eth-us.dwarfpool.com eth-us2.dwarfpool.com eth.antpool.com eu.stratum.slushpool.com
    eu1.ethermine.org eu1.ethpool.org fastpool.xyz fr.minexmr.com kriptokyng.com mine.moneropool.com
    mine.xmrpool.net miningmadness.com monero.cedric-crispin.com monero.crypto-pool.fr
    monero.fairhash.org monero.hashvault.pro monero.herominers.com monerod.org monerohash.com
    moneroocean.stream monerop.com multi-pools.com p2pool.io pool.kryptex.com pool.minexmr.com
    pool.monero.hashvault.pro pool.rplant.xyz pool.supportxmr.com pool.xmr.pt prohashing.com
    rx.unmineable.com sg.minexmr.com sg.stratum.slushpool.com skypool.org solo-xmr.2miners.com
    ss.antpool.com stratum-btm.antpool.com stratum-dash.antpool.com stratum-eth.antpool.com
    stratum-ltc.antpool.com stratum-xmc.antpool.com stratum-zec.antpool.com stratum.antpool.com
    supportxmr.com trustpool.cc us-east.stratum.slushpool.com us1.ethermine.org us1.ethpool.org
    us2.ethermine.org us2.ethpool.org web.xmrpool.eu www.domajorpool.com www.dxpool.com
    www.mining-dutch.nl xmc.antpool.com xmr-asia1.nanopool.org xmr-au1.nanopool.org
    xmr-eu1.nanopool.org xmr-eu2.nanopool.org xmr-jp1.nanopool.org xmr-us-east1.nanopool.org
    xmr-us-west1.nanopool.org xmr.2miners.com xmr.crypto-pool.fr xmr.gntl.uk xmr.nanopool.org
    xmr.pool-pay.com xmr.pool.minergate.com xmr.solopool.org xmr.volt-mine.com xmr.zeropool.io
    zec.antpool.com zergpool.com auto.c3pool.org us.monero.herominers.com xmr.kryptex.network""".split()  # noqa: SIM905
)


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """Catalogue facts of one rule (what the alert says about itself)."""

    id: str
    name: str
    severity: int
    enabled: bool
    tactic: str
    technique: str
    tags: tuple[str, ...]
    profile_dependency: int  # 0 required, 1 optional, 2 not used (Kubescape's scale)
    support_policy: bool = False


@dataclass(slots=True)
class Facts:
    """What the rules ask about one event, computed once."""

    event: Event
    kind: str
    comm: str
    pcomm: str
    exec_path: str = ""
    path: str = ""
    flags: tuple[str, ...] = ()
    cwd: str = ""
    domain: str = ""
    address: str = ""
    port: int = 0
    protocol: str = ""
    capability: str = ""


@dataclass(slots=True)
class Context:
    """The binding the rule evaluates against and node-level knowledge."""

    behaviour: Behaviour | None
    api_servers: frozenset[str] = frozenset()
    mounts: ContainerMounts | None = None  # read on the container's first exec


Check = Callable[[Facts, Context], str | None]


@dataclass(frozen=True, slots=True)
class Rule:
    spec: RuleSpec
    kinds: frozenset[str]
    check: Check
    unique: Callable[[Facts], str] = field(default=lambda f: f.comm)


def runtime_init(event: Event) -> bool:
    """The container runtime's own init (`runc init`, started as /proc/self/exe so first
    named `exe`, then renamed `runc:[0:PARENT]`, `[1:CHILD]`, `[2:INIT]`) sets the container
    up inside its cgroup before the workload runs (mounts, pivot_root, hostname, capability
    drops): it is the runtime, never the workload's behaviour, so it is neither judged nor
    learned."""
    init = event.comm in ("runc", "exe") and event.argv[1:2] == ("init",)  # /proc/self/exe init
    return init or event.comm.startswith(RUNTIME_INIT)


def facts_of(event: Event, wanted: Container[str] | None = None) -> Facts | None:
    """Classify an event into a Kubescape event type; None when it has none (or not a
    `wanted` one) and for the runtime's own init, so events no enabled rule reads cost one
    classification only."""
    if runtime_init(event):
        return None
    kind = _kind(event)
    if kind is None or (wanted is not None and kind not in wanted):
        return None
    proc = event.process
    f = Facts(
        event=event,
        kind=kind,
        comm=event.comm or (proc.comm if proc else ""),
        pcomm=os.path.basename(proc.parent_exe) if proc and proc.parent_exe else "",
        cwd=proc.cwd if proc else "",
    )
    facts = event.facts
    if kind == "exec":
        # a refused exec leaves the caller's image in place: its path is the event's file
        exe = proc.exe if proc and proc.exe and event.retval >= 0 else ""
        f.path = event.resource
        f.exec_path = exe or event.resource or (event.argv[0] if event.argv else "") or f.comm
        if f.exec_path == SELF_EXE and proc and proc.parent_exe:
            # re-executing oneself (busybox applets, runc init) runs the caller's binary
            f.exec_path = proc.parent_exe
    elif kind in ("open", "hardlink"):
        f.path = event.resource
        if isinstance(facts, FileAccess) and facts.flags is not None:
            f.flags = open_flag_names(facts.flags)
    elif kind == "symlink":
        f.path = facts.target if isinstance(facts, FileAccess) else ""
    elif kind == "dns":
        assert isinstance(facts, DnsQuestion) and facts.name is not None  # see _kind
        f.domain = facts.name
    elif kind == "network":
        endpoint = facts.endpoint if isinstance(facts, SocketCall) else None
        if endpoint is not None and endpoint.ip:
            f.address, f.port = endpoint.ip, endpoint.port or 0
        f.protocol = "TCP"
    elif kind == "capabilities":
        f.capability = facts.name if isinstance(facts, Capability) else event.resource
    return f


def _kind(event: Event) -> str | None:
    kind, name = event.kind, event.syscall
    if kind == kinds.PROCESS_EXEC:
        return "exec" if attempted(event) else None
    if kind == kinds.FILE_OPEN:
        return "open" if attempted(event) else None
    if kind == kinds.FILE_LINK:
        return "symlink" if name in ("symlink", "symlinkat") else "hardlink"
    if kind == kinds.NETWORK_DNS:
        facts = event.facts
        return "dns" if isinstance(facts, DnsQuestion) and facts.name is not None else None
    if kind == kinds.NETWORK_CONNECT:
        return "network" if event.retval in CONNECT_ATTEMPTS else None
    if kind == kinds.CAPABILITY_CHECK:
        return "capabilities"
    if event.operation is Operation.SYSCALL:
        return SYSCALL_KINDS.get(name)
    return None


def _syscall_arg(event: Event, name: str) -> int | str | None:
    facts = event.facts
    return facts.values.get(name) if isinstance(facts, SyscallArgs) else None


def attempted(event: Event) -> bool:
    """It succeeded, or the kernel refused it: either way the process tried (module doc)."""
    return event.retval >= 0 or event.retval in REFUSED


def refusal(event: Event) -> str:
    """` (refused: EACCES)` for a refused attempt, "" otherwise: said in the alert."""
    if event.retval >= 0:
        return ""
    return f" (refused: {errno.errorcode.get(-event.retval, str(event.retval))})"


def _is_private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local


def was_executed(f: Facts, c: Context) -> bool:
    """node-agent's `cp.was_executed`: the profile's execs, then the pod spec's own (an element
    of the container's command or of an exec lifecycle hook)."""
    if c.behaviour is not None and c.behaviour.was_executed(f.exec_path):
        return True
    container = f.event.container
    return container is not None and any(f.exec_path in argv for argv in container.declared_execs)


def was_executed_with_args(f: Facts, c: Context) -> bool:
    """node-agent's `cp.was_executed_with_args`: a profile entry's args, else a whole argv the
    pod spec declares."""
    if c.behaviour is not None and c.behaviour.was_executed_with_args(f.exec_path, f.event.argv):
        return True
    container = f.event.container
    return container is not None and f.event.argv in container.declared_execs


# --- predicates: a message when the rule fires, None otherwise ------------------------
def _unexpected_exec(f: Facts, c: Context) -> str | None:
    if was_executed(f, c):
        return None
    return f"Unexpected process launched: {f.comm} with PID {f.event.host_pid}"


def _unexpected_args(f: Facts, c: Context) -> str | None:
    if not was_executed(f, c) or was_executed_with_args(f, c):
        return None
    return f"Unexpected process arguments: {f.exec_path} with args {' '.join(f.event.argv)}"


def _unexpected_open(f: Facts, c: Context) -> str | None:
    p = f.path
    watched = p.startswith(R0002_PREFIXES) or p in R0002_EXACT
    if not watched or p.startswith(R0002_EXCLUDED) or c.behaviour.was_path_opened(p):
        return None
    return f"Unexpected file access detected: {f.comm} with PID {f.event.host_pid} to {p}"


def _unexpected_capability(f: Facts, c: Context) -> str | None:
    cap = f.capability
    if c.behaviour.was_capability_used(cap):
        return None
    return f"Unexpected capability used: {cap} in syscall {f.event.syscall} with PID {f.event.host_pid}"


def _unexpected_domain(f: Facts, c: Context) -> str | None:
    name = f.domain if f.domain.endswith(".") else f.domain + "."
    # cluster names never leave the cluster; `name.cluster.local.` is the resolver trying its
    # search list before `name.`: one alert per lookup, on the name the workload asked for
    if name.endswith(".svc.cluster.local.") or name.endswith(".cluster.local."):
        return None
    if c.behaviour.is_domain_in_egress(name):
        return None
    container = f.event.container.name if f.event.container else ""
    return f"Unexpected domain communication: {name} from: {container}"


def _token_access(f: Facts, c: Context) -> str | None:
    p = f.path
    if not (p.startswith(SA_TOKEN_PREFIXES) and p.endswith("/token")):
        return None
    if c.behaviour.was_path_opened_with_suffix("/token"):
        return None
    return f"Unexpected access to service account token: {p} with flags: {','.join(f.flags)}"


def _kubernetes_client(f: Facts, c: Context) -> str | None:
    if f.kind == "exec":
        if f.comm != "kubectl" and not f.exec_path.endswith("/kubectl"):
            return None
        if was_executed(f, c):
            return None
        return f"Kubernetes client ({f.comm}) was executed with PID {f.event.host_pid}"
    if f.address not in c.api_servers or (c.behaviour and c.behaviour.was_address_in_egress(f.address)):
        return None
    container = f.event.container.name if f.event.container else ""
    return f"Network connection to Kubernetes API server from container {container}"


def _environ_read(f: Facts, c: Context) -> str | None:
    p = f.path
    if not (p.startswith("/proc/") and p.endswith("/environ")):
        return None
    if c.behaviour.was_path_opened_with_suffix("/environ"):
        return None
    return f"Reading environment variables from procfs: {p} by process {f.comm}"


def _bpf_load(f: Facts, c: Context) -> str | None:
    if _syscall_arg(f.event, "cmd") != BPF_PROG_LOAD or not attempted(f.event):
        return None
    if c.behaviour and c.behaviour.was_syscall_used("bpf"):
        return None
    return f"bpf program load system call (bpf) was called by process ({f.comm}) with command (BPF_PROG_LOAD)"


def sensitive(path: str) -> bool:
    """One of node-agent's sensitive files, in the container's /etc or the node's /etc
    mounted into it."""
    for mount in HOST_ETC_MOUNTS:
        if path.startswith(mount):
            path = "/etc/" + path[len(mount) :]
            break
    return path.startswith(SENSITIVE_FILES)


def _sensitive_open(f: Facts, c: Context) -> str | None:
    if not sensitive(f.path) or (c.behaviour and c.behaviour.was_path_opened(f.path)):
        return None
    return f"Unexpected sensitive file access: {f.path} by process {f.comm}"


def _unexpected_egress(f: Facts, c: Context) -> str | None:
    if not f.address or _is_private(f.address) or c.behaviour.was_address_in_egress(f.address):
        return None
    container = f.event.container.name if f.event.container else ""
    target = f"{f.address}:{f.port}"
    return f"Unexpected egress network communication to: {target} using {f.protocol} from: {container}"


def _cloud_metadata(f: Facts, c: Context) -> str | None:
    if f.address not in CLOUD_METADATA or (c.behaviour and c.behaviour.was_address_in_egress(f.address)):
        return None
    container = f.event.container.name if f.event.container else ""
    return f"Cloud metadata service contacted: {f.address}:{f.port} by {f.comm} from: {container}"


def _malicious_source(f: Facts, c: Context) -> str | None:
    shm = "/dev/shm"
    hits = (f.exec_path, f.cwd, f.path)
    if not any(p == shm or p.startswith(shm + "/") for p in hits if p):
        return None
    return f"Execution from malicious source: {f.exec_path} in directory {f.cwd}"


def _drifted(f: Facts, c: Context) -> str | None:
    """node-agent: the exe or its parent's lies in the upper layer (not part of the image)."""
    mounts, proc = c.mounts, f.event.process
    if not mounts or not (
        mounts.not_in_image(f.exec_path) or (proc is not None and mounts.not_in_image(proc.parent_exe))
    ):
        return None
    if was_executed(f, c):
        return None
    return f"Process ({f.comm}) was executed and is not part of the image"


def _kernel_module(f: Facts, c: Context) -> str | None:
    module = str(_syscall_arg(f.event, "params") or "") or f.event.resource
    return (
        f"Kernel module ({module}) loading attempt with syscall ({f.event.syscall}) was called by "
        f"process ({f.comm})"
    )


def _exec_from_mount(f: Facts, c: Context) -> str | None:
    if was_executed(f, c):
        return None
    for mount in c.mounts.mount_points if c.mounts else ():
        if any(p.startswith(mount) for p in (f.exec_path, f.path) if p):  # node-agent: plain prefix
            return f"Process ({f.comm}) was executed from a mounted path"
    return None


def _fileless(f: Facts, c: Context) -> str | None:
    """node-agent reads the kernel's exe path: an exec through `/proc/self/fd/N` is judged by
    the file the descriptor names (`/memfd:x` fires, a file on disk does not); only a
    descriptor that could not be resolved (the process already gone) is judged as given."""
    p = f.exec_path
    if "memfd" in p or p.startswith("/proc/self/fd") or MEMFD_FD_PATH.fullmatch(p):
        return f'Fileless execution detected: exec call "{f.comm}" is from a malicious source'
    return None


def _escape(f: Facts, c: Context) -> str | None:
    if c.behaviour and c.behaviour.was_syscall_used("unshare"):
        return None
    return f"Unshare system call (unshare) was called by process ({f.comm})"


def _miner(f: Facts, c: Context) -> str | None:
    return f"XMR Crypto Miner process: ({f.exec_path or f.event.resource}) executed"


def _mining_domain(f: Facts, c: Context) -> str | None:
    if f.domain.rstrip(".").lower() not in CRYPTO_MINING_DOMAINS:
        return None
    return f"Communication with a known crypto mining domain: {f.domain}"


def _mining_port(f: Facts, c: Context) -> str | None:
    if f.protocol != "TCP" or f.port not in MINER_PORTS:
        return None
    if c.behaviour and c.behaviour.was_address_in_egress(f.address):
        return None
    return (
        f"Detected crypto mining related port communication on port {f.port} to {f.address} "
        f"with protocol {f.protocol}"
    )


def _link_over_sensitive(label: str, arrow: str) -> Check:
    """R1010/R1012: a link whose old path is a sensitive file, unless profiled."""

    def check(f: Facts, c: Context) -> str | None:
        if not sensitive(f.path):
            return None
        if c.behaviour and c.behaviour.was_path_opened(f.path):
            return None
        access = f.event.facts
        new_path = access.new_path if isinstance(access, FileAccess) else ""
        other = f.event.resource if f.kind == "symlink" else new_path
        return f"{label} created over sensitive file: {f.path} {arrow} {other}"

    return check


def _ld_preload(f: Facts, c: Context) -> str | None:
    if f.path != "/etc/ld.so.preload" or f.flags in ((), ("O_RDONLY",)):
        return None
    return f"The dynamic linker configuration file ({f.path}) was modified by process ({f.comm})"


def _ptrace(f: Facts, c: Context) -> str | None:
    if _syscall_arg(f.event, "request") not in PTRACE_WRITE_REQUESTS:
        return None
    return f"Malicious ptrace usage detected from: {f.comm}"


def _io_uring(f: Facts, c: Context) -> str | None:
    if c.behaviour and c.behaviour.was_syscall_used("io_uring_setup"):
        return None
    return f"Unexpected io_uring operation detected: (opcode=setup) flags=0x0 in {f.comm}."


def _spec(
    rid: str, name: str, sev: int, on: bool, tactic: str, tech: str, dep: int, tags: str, policy: bool = False
) -> RuleSpec:
    return RuleSpec(rid, name, sev, on, tactic, tech, tuple(tags.split(",")), dep, policy)


_K8S = "context:kubernetes"
_HOST = "context:host"
CATALOGUE: tuple[Rule, ...] = (
    Rule(_spec("R0001", "Unexpected process launched", 1, True, "TA0002", "T1059", 0,
               f"{_K8S},context:container,anomaly,process,exec,applicationprofile"),
         frozenset({"exec"}), _unexpected_exec, lambda f: f"{f.comm}_{f.exec_path}"),
    Rule(_spec("R0002", "Files Access Anomalies in container", 1, False, "TA0009", "T1005", 0,
               f"{_K8S},context:container,anomaly,file,open,applicationprofile"),
         frozenset({"open"}), _unexpected_open, lambda f: f"{f.comm}_{f.path}"),
    Rule(_spec("R0004", "Linux Capabilities Anomalies in container", 1, True, "TA0002", "T1059", 0,
               f"{_K8S},context:container,anomaly,capabilities,applicationprofile"),
         frozenset({"capabilities"}), _unexpected_capability,
         lambda f: f"{f.comm}_{f.capability}"),
    Rule(_spec("R0005", "DNS Anomalies in container", 1, True, "TA0011", "T1071.004", 0,
               f"{_K8S},context:container,dns,anomaly,networkprofile"),
         frozenset({"dns"}), _unexpected_domain, lambda f: f"{f.comm}_{f.domain}"),
    Rule(_spec("R0006", "Unexpected service account token access", 5, True, "TA0006", "T1528", 0,
               f"{_K8S},anomaly,serviceaccount,applicationprofile"),
         frozenset({"open"}), _token_access),
    Rule(_spec("R0007", "Workload uses Kubernetes API unexpectedly", 5, True, "TA0008", "T1210", 0,
               f"{_K8S},exec,network,anomaly,applicationprofile"),
         frozenset({"exec", "network"}), _kubernetes_client,
         lambda f: f"exec_{f.comm}" if f.kind == "exec" else f"network_{f.address}"),
    Rule(_spec("R0008", "Read Environment Variables from procfs", 5, True, "TA0006", "T1552.001", 0,
               f"{_K8S},context:container,anomaly,procfs,environment,applicationprofile"),
         frozenset({"open"}), _environ_read),
    Rule(_spec("R0009", "eBPF Program Load", 5, True, "TA0005", "T1218", 1,
               f"{_K8S},{_HOST},bpf,ebpf,applicationprofile"),
         frozenset({"bpf"}), _bpf_load, lambda f: f"{f.comm}_bpf_{_syscall_arg(f.event, 'cmd') or ''}"),
    Rule(_spec("R0010", "Unexpected Sensitive File Access", 5, True, "TA0006", "T1005", 1,
               f"{_K8S},context:container,{_HOST},files,anomaly,applicationprofile"),
         frozenset({"open"}), _sensitive_open, lambda f: f"{f.comm}_{f.path}"),
    Rule(_spec("R0011", "Unexpected Egress Network Traffic", 5, True, "TA0010", "T1041", 0,
               f"{_K8S},context:container,whitelisted,network,anomaly,networkprofile"),
         frozenset({"network"}), _unexpected_egress, lambda f: f"{f.address}_{f.port}_{f.protocol}"),
    Rule(_spec("R0040", "Unexpected process arguments", 3, True, "TA0002", "T1059", 0,
               f"{_K8S},context:container,anomaly,process,exec,applicationprofile"),
         frozenset({"exec"}), _unexpected_args, lambda f: f"{f.exec_path}_{' '.join(f.event.argv)}"),
    Rule(_spec("R1000", "Process Executed from /dev/shm", 8, True, "TA0002", "T1059", 2,
               f"{_K8S},{_HOST},exec,signature,malicious"),
         frozenset({"exec"}), _malicious_source, lambda f: f"{f.comm}_{f.exec_path}_{f.pcomm}"),
    Rule(_spec("R1001", "Drifted process executed", 8, True, "TA0005", "T1036", 1,
               f"{_K8S},context:container,exec,malicious,binary,base image,applicationprofile"),
         frozenset({"exec"}), _drifted, lambda f: f"{f.comm}_{f.exec_path}_{f.pcomm}"),
    Rule(_spec("R1002", "Process tries to load a kernel module", 10, True, "TA0005", "T1547.006", 2,
               f"{_K8S},{_HOST},kmod,kernel,module,load"),
         frozenset({"kmod"}), _kernel_module, lambda f: f"{f.comm}_{f.event.syscall}"),
    Rule(_spec("R1004", "Process executed from mount", 5, True, "TA0002", "T1059", 1,
               f"{_K8S},context:container,exec,mount,applicationprofile"),
         frozenset({"exec"}), _exec_from_mount),
    Rule(_spec("R1005", "Fileless execution detected", 8, True, "TA0005", "T1055", 2,
               f"{_K8S},{_HOST},fileless,execution,malicious"),
         frozenset({"exec"}), _fileless, lambda f: f"{f.comm}_{f.exec_path}_{f.pcomm}"),
    Rule(_spec("R1006", "Unexpected unshare Syscall in Container", 5, True, "TA0004", "T1611", 1,
               f"{_K8S},context:container,unshare,escape,unshare,anomaly,applicationprofile"),
         frozenset({"unshare"}), _escape, lambda f: f"{f.comm}_unshare"),
    Rule(_spec("R1007", "Crypto miner launched", 10, True, "TA0040", "T1496", 2,
               f"{_K8S},context:container,crypto,miners,malicious"),
         frozenset({"randomx"}), _miner, lambda f: f"{f.exec_path}_{f.comm}"),
    Rule(_spec("R1008", "Crypto Mining Domain Communication", 10, True, "TA0011", "T1071.004", 2,
               f"{_K8S},{_HOST},network,crypto,miners,malicious,dns"),
         frozenset({"dns"}), _mining_domain, lambda f: f"{f.domain}_{f.comm}"),
    Rule(_spec("R1009", "Crypto Mining Related Port Communication", 3, True, "TA0011", "T1071", 1,
               f"{_K8S},{_HOST},network,crypto,miners,malicious,networkprofile"),
         frozenset({"network"}), _mining_port, lambda f: f"{f.comm}_{f.port}"),
    Rule(_spec("R1010", "Soft link created over sensitive file", 5, True, "TA0006", "T1005", 1,
               f"{_K8S},{_HOST},anomaly,symlink,applicationprofile", True),
         frozenset({"symlink"}), _link_over_sensitive("Symlink", "->"), lambda f: f"{f.comm}_{f.path}"),
    Rule(_spec("R1011", "ld_preload Mechanism Use or ld.so.preload Modification", 5, False, "TA0005",
               "T1574.006", 1, f"{_K8S},exec,malicious,applicationprofile", True),
         frozenset({"open"}), _ld_preload, lambda f: f"open_{f.path}"),
    Rule(_spec("R1012", "Hard link created over sensitive file", 5, True, "TA0006", "T1005", 1,
               f"{_K8S},files,malicious,applicationprofile", True),
         frozenset({"hardlink"}), _link_over_sensitive("Hardlink", "-"), lambda f: f"{f.comm}_{f.path}"),
    Rule(_spec("R1015", "Unexpected Ptrace Syscall Usage", 5, True, "TA0005", "T1622", 2,
               f"{_K8S},{_HOST},process,malicious"),
         frozenset({"ptrace"}), _ptrace, lambda f: f"{f.exec_path}_{f.comm}"),
    Rule(_spec("R1030", "Unexpected io_uring Operation Detected", 5, True, "TA0002", "T1218", 0,
               f"{_K8S},context:container,syscalls,io_uring,applicationprofile", True),
         frozenset({"iouring"}), _io_uring, lambda f: f"setup_{f.comm}"),
    # Beholder's own (not in node-agent's catalogue): instance credentials are one request
    # away from any pod, and link-local addresses are private to R0011
    Rule(_spec("BH-METADATA", "Cloud Metadata Service Access", 8, True, "TA0006", "T1552.005", 1,
               f"{_K8S},context:container,network,cloud,credentials,networkprofile"),
         frozenset({"network"}), _cloud_metadata, lambda f: f"{f.comm}_{f.address}"),
)  # fmt: skip
BEHOLDER_RULES = frozenset({"BH-METADATA"})

# R0003 reads the per-cgroup syscall set (engine.observe_syscalls), not events.
R0003 = _spec(
    "R0003", "Syscalls Anomalies in container", 1, True, "TA0002", "T1059", 0,
    f"{_K8S},context:container,anomaly,syscall,applicationprofile",
)  # fmt: skip

ALL_SPECS: tuple[RuleSpec, ...] = tuple(sorted([r.spec for r in CATALOGUE] + [R0003], key=lambda s: s.id))


def rules_by_kind(enabled: Iterable[str]) -> dict[str, list[Rule]]:
    """Index the enabled rules by the event kind they read: one dict lookup per event."""
    wanted = set(enabled)
    index: dict[str, list[Rule]] = {}
    for rule in CATALOGUE:
        if rule.spec.id in wanted:
            for kind in rule.kinds:
                index.setdefault(kind, []).append(rule)
    return index


# Kubescape event type -> the calls the kernel must send for it (kernel interest). DNS over
# write() is seen only on a socket whose connect() to port 53 the kernel saw (network.c).
_TYPE_CALLS: dict[str, frozenset[str]] = {
    "exec": calls_of({kinds.PROCESS_EXEC}),
    "open": calls_of({kinds.FILE_OPEN}),
    "symlink": frozenset({"symlink", "symlinkat"}),
    "hardlink": frozenset({"link", "linkat"}),
    "dns": calls_of({kinds.NETWORK_DNS}) | {"socket", "connect"},
    "network": frozenset({"connect"}),
}
for _name, _type in SYSCALL_KINDS.items():
    _TYPE_CALLS[_type] = _TYPE_CALLS.get(_type, frozenset()) | {_name}


# Rules reading opens that judge only paths under these prefixes (absolute paths as the
# process gave them; the kernel sends relative ones whatever they are). A rule not named
# here reads every open.
OPEN_PREFIXES: dict[str, tuple[str, ...]] = {
    "R0002": R0002_PREFIXES + R0002_EXACT,
    "R0006": SA_TOKEN_PREFIXES,
    "R0008": ("/proc/",),
    "R0010": SENSITIVE_FILES + HOST_ETC_MOUNTS,
    "R1011": ("/etc/ld.so.preload",),
}


def rule_needs(enabled: Iterable[str], profiled: bool) -> Needs:
    """What the enabled rules read, for a container with a profile bound (`profiled`) or
    without (then only the rules that need no profile run)."""
    wanted = set(enabled)
    needs = NOTHING
    for rule in CATALOGUE:
        if rule.spec.id in wanted and (profiled or rule.spec.profile_dependency != 0):
            for kind in rule.kinds:
                if kind == "capabilities":
                    needs |= Needs(kinds=frozenset({RecordKind.CAP}))
                elif kind == "open" and rule.spec.id in OPEN_PREFIXES:
                    needs |= Needs(prefixes=frozenset(OPEN_PREFIXES[rule.spec.id]))
                else:
                    needs |= Needs(syscalls=_TYPE_CALLS[kind])
    return needs


def default_enabled() -> set[str]:
    return {s.id for s in ALL_SPECS if s.enabled}

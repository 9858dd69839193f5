"""Each reference KubeArmor policy, with events that must and must not raise an alert.

Expectations follow KubeArmor's feeder (feeder/policyMatcher.go) on a node without
BPF-LSM, where a Block rule is reported as `Audit (Block)` with Result `Passed`. Where the
policies' own `# test` comments predate that code (owner-only and read-only Audit rules
alert on what falls outside the limit, like the matching Block rule), the code wins.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from beholder.events.model import ContainerInfo, Event
from conftest import REFERENCE, require

POLICIES = REFERENCE / "kubearmor" / "policies"
HSP = "host-security-policies/"
MU = "multiubuntu/security-policies/"
CSP = "nginx-csp/cluster-security-policies/"
WP = "wordpress-mysql/security-policies/"
BLOCK = "Audit (Block)"
POSTURE = ("DefaultPosture", "Audit")


def _c(
    name: str = "ubuntu-1", namespace: str = "multiubuntu", group: str = "group-1", **labels: str
) -> ContainerInfo:
    labels = {"container": name, "group": group, **labels} if namespace == "multiubuntu" else labels
    return ContainerInfo(container_id=f"id-{namespace}-{name}", name=name, namespace=namespace, labels=labels)


UB1, UB2 = _c("ubuntu-1"), _c("ubuntu-2")
UB3, UB4, UB5 = (
    _c("ubuntu-3", group="group-2"),
    _c("ubuntu-4", group="group-2"),
    _c("ubuntu-5", group="group-2"),
)
NGINX1 = _c("nginx", "nginx1", app="nginx")
NGINX1_OTHER = _c("web", "nginx1", app="other")
NGINX2 = _c("nginx", "nginx2", app="nginx")
WORDPRESS = _c("wordpress", "wordpress-mysql", app="wordpress")
MYSQL = _c("mysql", "wordpress-mysql", app="mysql")
USER1 = 1000

Case = tuple[str, Callable[..., Event], tuple[str, str] | None]

CASES: dict[str, Case] = {
    # --- host policies (node kubearmor-dev) ---
    "host exec of blocked path": (
        HSP + "hsp-k8s-kubearmor-dev-proc-path-block.yaml",
        lambda e: e.exec("/usr/bin/diff"),
        ("hsp-kubearmor-dev-proc-path-block", BLOCK),
    ),
    "host exec of other path": (
        HSP + "hsp-k8s-kubearmor-dev-proc-path-block.yaml",
        lambda e: e.exec("/usr/bin/ls"),
        None,
    ),
    "host policy ignores container events": (
        HSP + "hsp-k8s-kubearmor-dev-proc-path-block.yaml",
        lambda e: e.exec("/usr/bin/diff", ctr=UB1),
        None,
    ),
    "exec block fromSource parent matches": (
        HSP + "hsp-k8s-kubearmor-dev-proc-path-block-fromSource.yaml",
        lambda e: e.exec("/bin/date", "/bin/bash"),
        ("hsp-kubearmor-dev-proc-path-block-fromsource", BLOCK),
    ),
    "exec block fromSource other parent": (
        HSP + "hsp-k8s-kubearmor-dev-proc-path-block-fromSource.yaml",
        lambda e: e.exec("/bin/date", "/bin/sh"),
        None,
    ),
    "exec block fromSource other child": (
        HSP + "hsp-k8s-kubearmor-dev-proc-path-block-fromSource.yaml",
        lambda e: e.exec("/bin/ls", "/bin/bash"),
        None,
    ),
    "exec allow fromSource permitted": (
        HSP + "hsp-k8s-kubearmor-dev-proc-path-allow-fromSource.yaml",
        lambda e: e.exec("/bin/date", "/bin/bash"),
        None,
    ),
    "exec allow fromSource unlisted hits posture": (
        HSP + "hsp-k8s-kubearmor-dev-proc-path-allow-fromSource.yaml",
        lambda e: e.exec("/bin/ls", "/bin/bash"),
        POSTURE,
    ),
    "file audit path": (
        HSP + "hsp-k8s-kubearmor-dev-file-path-audit.yaml",
        lambda e: e.open("/etc/passwd"),
        ("hsp-kubearmor-dev-file-path-audit", "Audit"),
    ),
    "file audit other path": (
        HSP + "hsp-k8s-kubearmor-dev-file-path-audit.yaml",
        lambda e: e.open("/etc/hosts"),
        None,
    ),
    "file block path": (
        HSP + "hsp-k8s-kubearmor-dev-file-path-block.yaml",
        lambda e: e.open("/etc/hostname"),
        ("hsp-kubearmor-dev-file-path-block", BLOCK),
    ),
    "file block fromSource source": (
        HSP + "hsp-k8s-kubearmor-dev-file-path-block-fromSource.yaml",
        lambda e: e.open("/etc/hostname", "/usr/bin/head"),
        ("hsp-kubearmor-dev-file-path-block-fromsource", BLOCK),
    ),
    "file block fromSource other process": (
        HSP + "hsp-k8s-kubearmor-dev-file-path-block-fromSource.yaml",
        lambda e: e.open("/etc/hostname", "/bin/cat"),
        None,
    ),
    "file allow fromSource permitted": (
        HSP + "hsp-k8s-kubearmor-dev-file-path-allow-fromSource.yaml",
        lambda e: e.open("/etc/hostname", "/usr/bin/head"),
        None,
    ),
    "file allow fromSource unlisted": (
        HSP + "hsp-k8s-kubearmor-dev-file-path-allow-fromSource.yaml",
        lambda e: e.open("/etc/hosts", "/usr/bin/head"),
        POSTURE,
    ),
    "dir block non-recursive child": (
        HSP + "hsp-k8s-kubearmor-dev-file-dir-block-fromSource.yaml",
        lambda e: e.open("/etc/default/useradd", "/usr/bin/head"),
        ("hsp-kubearmor-dev-file-dir-block-fromsource", BLOCK),
    ),
    "dir block non-recursive grandchild": (
        HSP + "hsp-k8s-kubearmor-dev-file-dir-block-fromSource.yaml",
        lambda e: e.open("/etc/default/grub.d/x.cfg", "/usr/bin/head"),
        None,
    ),
    "dir allow recursive grandchild": (
        HSP + "hsp-k8s-kubearmor-dev-file-dir-allow-fromSource.yaml",
        lambda e: e.open("/etc/default/grub.d/x.cfg", "/usr/bin/head"),
        None,
    ),
    "dir allow recursive outside": (
        HSP + "hsp-k8s-kubearmor-dev-file-dir-allow-fromSource.yaml",
        lambda e: e.open("/etc/hostname", "/usr/bin/head"),
        POSTURE,
    ),
    "node selector wildcard": (
        HSP + "hsp-nonk8s-kubearmor-dev-file-dir-block-fromsource.yaml",
        lambda e: e.open("/etc/default/useradd", "/usr/bin/head"),
        ("hsp-kubearmor-dev-file-dir-block-fromsource", BLOCK),
    ),
    # --- container policies ---
    "container.name selector": (
        "kubearmor_containerpolicy.yaml",
        lambda e: e.exec("/usr/bin/ls", ctr=_c("lb", "default")),
        ("process-block", BLOCK),
    ),
    "container.name selector other container": (
        "kubearmor_containerpolicy.yaml",
        lambda e: e.exec("/usr/bin/ls", ctr=_c("web", "default")),
        None,
    ),
    "matchLabels group": (
        MU + "ksp-group-1-proc-path-block.yaml",
        lambda e: e.exec("/bin/sleep", ctr=UB1),
        ("ksp-group-1-proc-path-block", BLOCK),
    ),
    "matchLabels other group": (
        MU + "ksp-group-1-proc-path-block.yaml",
        lambda e: e.exec("/bin/sleep", ctr=UB3),
        None,
    ),
    "namespaced policy other namespace": (
        MU + "ksp-group-1-proc-path-block.yaml",
        lambda e: e.exec("/bin/sleep", ctr=_c("ubuntu-1", "default", group="group-1")),
        None,
    ),
    "exec fromSource dash": (
        MU + "ksp-group-1-proc-path-block-from-source.yaml",
        lambda e: e.exec("/bin/ls", "/bin/dash", ctr=UB1),
        ("ksp-group-1-proc-path-block-from-source", BLOCK),
    ),
    "exec fromSource bash": (
        MU + "ksp-group-1-proc-path-block-from-source.yaml",
        lambda e: e.exec("/bin/ls", "/bin/bash", ctr=UB1),
        None,
    ),
    "process audit": (
        MU + "ksp-group-2-proc-path-audit.yaml",
        lambda e: e.exec("/bin/sleep", ctr=UB4),
        ("ksp-group-2-proc-path-audit", "Audit"),
    ),
    "expression In + execname": (
        MU + "ksp-match-expression-in-notin-block-process.yaml",
        lambda e: e.exec("/usr/bin/apt", ctr=UB1),
        ("ksp-match-expression-in-notin-block-process", BLOCK),
    ),
    "expression In not satisfied": (
        MU + "ksp-match-expression-in-notin-block-process.yaml",
        lambda e: e.exec("/usr/bin/apt", ctr=UB3),
        None,
    ),
    "execname is the whole basename": (
        MU + "ksp-match-expression-in-notin-block-process.yaml",
        lambda e: e.exec("/usr/bin/aptitude", ctr=UB1),
        None,
    ),
    "expression NotIn excluded": (
        MU + "ksp-match-expression-notin-block-process.yaml",
        lambda e: e.exec("/usr/bin/apt", ctr=UB1),
        None,
    ),
    "expression NotIn others": (
        MU + "ksp-match-expression-notin-block-process.yaml",
        lambda e: e.exec("/usr/bin/apt", ctr=UB2),
        ("ksp-match-expression-notin-block-process", BLOCK),
    ),
    "capability block": (
        MU + "ksp-ubuntu-1-cap-net-raw-block.yaml",
        lambda e: e.socket("SOCK_RAW", 768, "/usr/sbin/arping", UB1, "AF_PACKET"),  # on the raw socket
        ("ksp-ubuntu-1-cap-net-raw-block", BLOCK),
    ),
    "capability other": (
        MU + "ksp-ubuntu-1-cap-net-raw-block.yaml",
        lambda e: e.capability("NET_ADMIN", "/usr/sbin/ip", UB1),
        None,
    ),
    "file audit list": (
        MU + "ksp-ubuntu-1-file-path-audit.yaml",
        lambda e: e.open("/credentials/password", "/bin/bash", "O_WRONLY|O_APPEND", ctr=UB1),
        ("ksp-ubuntu-1-file-path-audit", "Audit"),
    ),
    "file audit unlisted": (
        MU + "ksp-ubuntu-1-file-path-audit.yaml",
        lambda e: e.open("/etc/shadow", ctr=UB1),
        None,
    ),
    "glob block shadow": (
        MU + "ksp-ubuntu-1-file-pattern-block.yaml",
        lambda e: e.open("/etc/shadow", ctr=UB1),
        ("ksp-ubuntu-1-file-pattern-block", BLOCK),
    ),
    "glob block gshadow": (
        MU + "ksp-ubuntu-1-file-pattern-block.yaml",
        lambda e: e.open("/etc/gshadow", ctr=UB1),
        ("ksp-ubuntu-1-file-pattern-block", BLOCK),
    ),
    "glob star stops at slash": (
        MU + "ksp-ubuntu-1-file-pattern-block.yaml",
        lambda e: e.open("/etc/x/shadow", ctr=UB1),
        None,
    ),
    "glob allow permitted": (
        MU + "ksp-ubuntu-1-file-pattern-allow.yaml",
        lambda e: e.open("/etc/shadow", ctr=UB1),
        None,
    ),
    "glob allow unlisted file": (
        MU + "ksp-ubuntu-1-file-pattern-allow.yaml",
        lambda e: e.open("/etc/hosts", ctr=UB1),
        POSTURE,
    ),
    "process allow dir permitted": (
        MU + "ksp-ubuntu-1-file-pattern-allow.yaml",
        lambda e: e.exec("/bin/cat", ctr=UB1),
        None,
    ),
    "process allow dir unlisted": (
        MU + "ksp-ubuntu-1-file-pattern-allow.yaml",
        lambda e: e.exec("/usr/bin/env", ctr=UB1),
        POSTURE,
    ),
    "ownerOnly block non-owner": (
        MU + "ksp-ubuntu-1-file-pattern-owner-block.yaml",
        lambda e: e.open("/home/user1/secret_data1.txt", ctr=UB1),
        ("ksp-ubuntu-1-file-pattern-owner-block", BLOCK),
    ),
    "ownerOnly block owner": (
        MU + "ksp-ubuntu-1-file-pattern-owner-block.yaml",
        lambda e: e.open("/home/user1/secret_data1.txt", uid=USER1, ctr=UB1),
        None,
    ),
    "ownerOnly audit non-owner": (
        MU + "ksp-ubuntu-1-file-pattern-owner-audit.yaml",
        lambda e: e.open("/home/user1/secret_data1.txt", ctr=UB1),
        ("ksp-ubuntu-1-file-pattern-owner-audit", "Audit"),
    ),
    "ownerOnly audit owner": (
        MU + "ksp-ubuntu-1-file-pattern-owner-audit.yaml",
        lambda e: e.open("/home/user1/secret_data1.txt", uid=USER1, ctr=UB1),
        None,
    ),
    "owner+readOnly block owner read": (
        MU + "ksp-ubuntu-1-file-pattern-owner-readonly-block.yaml",
        lambda e: e.open("/home/user1/secret_data1.txt", uid=USER1, ctr=UB1),
        None,
    ),
    "owner+readOnly block owner write": (
        MU + "ksp-ubuntu-1-file-pattern-owner-readonly-block.yaml",
        lambda e: e.open("/home/user1/secret_data1.txt", flags="O_WRONLY|O_APPEND", uid=USER1, ctr=UB1),
        ("ksp-ubuntu-1-file-pattern-owner-readonly-block", BLOCK),
    ),
    "owner+readOnly block root read": (
        MU + "ksp-ubuntu-1-file-pattern-owner-readonly-block.yaml",
        lambda e: e.open("/home/user1/secret_data1.txt", ctr=UB1),
        ("ksp-ubuntu-1-file-pattern-owner-readonly-block", BLOCK),
    ),
    "raw socket block": (
        MU + "ksp-ubuntu-1-net-raw-block.yaml",
        lambda e: e.socket("SOCK_RAW", 1, "/bin/ping", UB1),
        ("ksp-ubuntu-1-net-raw-block", BLOCK),
    ),
    "tcp socket not raw": (
        MU + "ksp-ubuntu-1-net-raw-block.yaml",
        lambda e: e.socket("SOCK_STREAM|SOCK_CLOEXEC", 0, "/usr/bin/curl", UB1),
        None,
    ),
    "protocol allow fromSource": (
        MU + "ksp-ubuntu-1-net-tcp-from-source-allow.yaml",
        lambda e: e.socket("SOCK_STREAM", 6, "/usr/bin/curl", UB1),
        None,
    ),
    "protocol allow fromSource other protocol": (
        MU + "ksp-ubuntu-1-net-tcp-from-source-allow.yaml",
        lambda e: e.socket("SOCK_DGRAM|SOCK_NONBLOCK", 0, "/usr/bin/curl", UB1),
        POSTURE,
    ),
    "protocol allow fromSource other process": (
        MU + "ksp-ubuntu-1-net-tcp-from-source-allow.yaml",
        lambda e: e.socket("SOCK_STREAM", 0, "/bin/nc", UB1, "AF_UNIX"),
        POSTURE,
    ),
    "dir block non-recursive": (
        MU + "ksp-ubuntu-1-proc-dir-block.yaml",
        lambda e: e.exec("/sbin/route", ctr=UB1),
        ("ksp-ubuntu-1-proc-dir-block", BLOCK),
    ),
    "dir block non-recursive other dir": (
        MU + "ksp-ubuntu-1-proc-dir-block.yaml",
        lambda e: e.exec("/usr/sbin/route", ctr=UB1),
        None,
    ),
    "dir block recursive": (
        MU + "ksp-ubuntu-2-proc-dir-recursive-block.yaml",
        lambda e: e.exec("/usr/bin/env", ctr=UB2),
        ("ksp-ubuntu-2-proc-dir-recursive-block", BLOCK),
    ),
    "dir block recursive outside": (
        MU + "ksp-ubuntu-2-proc-dir-recursive-block.yaml",
        lambda e: e.exec("/bin/env", ctr=UB2),
        None,
    ),
    "recursive dir deep file": (
        MU + "ksp-ubuntu-2-file-dir-recursive-block.yaml",
        lambda e: e.open("/run/secrets/kubernetes.io/serviceaccount/..data/token", ctr=UB2),
        ("ksp-ubuntu-2-file-dir-recursive-block", BLOCK),
    ),
    "recursive dir sibling": (
        MU + "ksp-ubuntu-2-file-dir-recursive-block.yaml",
        lambda e: e.open("/run/secrets/other", ctr=UB2),
        None,
    ),
    "recursive dir fromSource cat": (
        MU + "ksp-ubuntu-2-file-dir-recursive-block-from-source-path.yaml",
        lambda e: e.open("/credentials/keys/priv.key", ctr=UB2),
        ("ksp-ubuntu-2-file-dir-recursive-block-from-source-path", BLOCK),
    ),
    "recursive dir fromSource head": (
        MU + "ksp-ubuntu-2-file-dir-recursive-block-from-source-path.yaml",
        lambda e: e.open("/credentials/keys/priv.key", "/usr/bin/head", ctr=UB2),
        None,
    ),
    "readOnly block read": (
        MU + "ksp-ubuntu-3-file-dir-readonly-block.yaml",
        lambda e: e.open("/credentials/password", ctr=UB3),
        None,
    ),
    "readOnly block write": (
        MU + "ksp-ubuntu-3-file-dir-readonly-block.yaml",
        lambda e: e.open("/credentials/password", "/bin/bash", "O_WRONLY|O_CREAT|O_TRUNC", ctr=UB3),
        ("ksp-ubuntu-3-file-dir-readonly-block", BLOCK),
    ),
    "readOnly audit read": (
        MU + "ksp-ubuntu-3-file-dir-readonly-audit.yaml",
        lambda e: e.open("/credentials/password", ctr=UB3),
        None,
    ),
    "readOnly audit write": (
        MU + "ksp-ubuntu-3-file-dir-readonly-audit.yaml",
        lambda e: e.open("/credentials/password", "/bin/bash", "O_RDWR", ctr=UB3),
        ("ksp-ubuntu-3-file-dir-readonly-audit", "Audit"),
    ),
    "ownerOnly exec non-owner": (
        MU + "ksp-ubuntu-3-proc-path-owner-block.yaml",
        lambda e: e.exec("/home/user1/hello", ctr=UB3),
        ("ksp-ubuntu-3-proc-path-owner-block", BLOCK),
    ),
    "ownerOnly exec owner": (
        MU + "ksp-ubuntu-3-proc-path-owner-block.yaml",
        lambda e: e.exec("/home/user1/hello", uid=USER1, ctr=UB3),
        None,
    ),
    "non-recursive dir audit child": (
        MU + "ksp-ubuntu-4-file-dir-audit.yaml",
        lambda e: e.open("/credentials/password", ctr=UB4),
        ("ksp-ubuntu-4-file-dir-audit", "Audit"),
    ),
    "non-recursive dir audit the dir itself": (
        MU + "ksp-ubuntu-4-file-dir-audit.yaml",
        lambda e: e.open("/credentials", flags="O_RDONLY|O_DIRECTORY", ctr=UB4),
        ("ksp-ubuntu-4-file-dir-audit", "Audit"),
    ),
    "non-recursive dir audit grandchild": (
        MU + "ksp-ubuntu-4-file-dir-audit.yaml",
        lambda e: e.open("/credentials/keys/priv.key", ctr=UB4),
        None,
    ),
    "readOnly allow fromSource read": (
        MU + "ksp-ubuntu-4-file-path-readonly-allow-from-source-path.yaml",
        lambda e: e.open("/credentials/password", "/readwrite", ctr=UB4),
        None,
    ),
    "readOnly allow fromSource write": (
        MU + "ksp-ubuntu-4-file-path-readonly-allow-from-source-path.yaml",
        lambda e: e.open("/credentials/password", "/readwrite", "O_WRONLY", ctr=UB4),
        POSTURE,
    ),
    "readOnly allow fromSource other file": (
        MU + "ksp-ubuntu-4-file-path-readonly-allow-from-source-path.yaml",
        lambda e: e.open("/secret.txt", "/readwrite", ctr=UB4),
        POSTURE,
    ),
    "icmp audit raw socket": (
        MU + "ksp-ubuntu-5-net-icmp-audit.yaml",
        lambda e: e.socket("SOCK_RAW", 1, "/bin/ping", UB5),
        ("ksp-ubuntu-5-net-icmp-audit", "Audit"),
    ),
    "icmp audit ping socket": (
        MU + "ksp-ubuntu-5-net-icmp-audit.yaml",
        lambda e: e.socket("SOCK_DGRAM", 1, "/bin/ping", UB5),
        ("ksp-ubuntu-5-net-icmp-audit", "Audit"),
    ),
    "icmp audit ignores tcp": (
        MU + "ksp-ubuntu-5-net-icmp-audit.yaml",
        lambda e: e.socket("SOCK_STREAM", 6, "/usr/bin/curl", UB5),
        None,
    ),
    "ownerOnly recursive allow owner": (
        MU + "ksp-ubuntu-5-file-dir-recursive-owner-allow.yaml",
        lambda e: e.open("/home/user1/dir1/key1.txt", uid=USER1, ctr=UB5),
        None,
    ),
    "ownerOnly recursive allow root": (
        MU + "ksp-ubuntu-5-file-dir-recursive-owner-allow.yaml",
        lambda e: e.open("/home/user1/dir1/key1.txt", ctr=UB5),
        POSTURE,
    ),
    # --- cluster policies ---
    "cluster namespace In": (
        CSP + "csp-in-operator-block-process.yaml",
        lambda e: e.exec("/usr/bin/apt", ctr=NGINX1),
        ("csp-in-operator-block-process", BLOCK),
    ),
    "cluster namespace In other": (
        CSP + "csp-in-operator-block-process.yaml",
        lambda e: e.exec("/usr/bin/apt", ctr=NGINX2),
        None,
    ),
    "cluster namespace NotIn": (
        CSP + "csp-not-in-operator-block-process.yaml",
        lambda e: e.exec("/usr/bin/apt", ctr=NGINX2),
        ("csp-not-in-operator-block-process", BLOCK),
    ),
    "cluster namespace NotIn excluded": (
        CSP + "csp-not-in-operator-block-process.yaml",
        lambda e: e.exec("/usr/bin/apt", ctr=NGINX1),
        None,
    ),
    "cluster namespace and label In": (
        CSP + "csp-matchlabels-in-block-process.yaml",
        lambda e: e.exec("/usr/bin/apt", ctr=NGINX1),
        ("csp-matchlabels-in-block-process", BLOCK),
    ),
    "cluster label In missing": (
        CSP + "csp-matchlabels-in-block-process.yaml",
        lambda e: e.exec("/usr/bin/apt", ctr=NGINX1_OTHER),
        None,
    ),
    "cluster label NotIn": (
        CSP + "csp-matchlabels-not-in-block-process.yaml",
        lambda e: e.exec("/usr/bin/apt", ctr=NGINX1_OTHER),
        ("csp-matchlabels-not-in-block-process", BLOCK),
    ),
    "cluster label NotIn excluded": (
        CSP + "csp-matchlabels-not-in-block-process.yaml",
        lambda e: e.exec("/usr/bin/apt", ctr=NGINX1),
        None,
    ),
    "cluster file fromSource": (
        CSP + "csp-in-operator-block-file-access.yaml",
        lambda e: e.open("/etc/host.conf", "/usr/bin/cat", ctr=NGINX2),
        ("csp-in-operator-block-file-access", BLOCK),
    ),
    "cluster file other namespace": (
        CSP + "csp-in-operator-block-file-access.yaml",
        lambda e: e.open("/etc/host.conf", "/usr/bin/cat", ctr=NGINX1),
        None,
    ),
    "wordpress config fromSource": (
        WP + "ksp-wordpress-block-config.yaml",
        lambda e: e.open("/var/www/html/wp-config.php", ctr=WORDPRESS),
        ("ksp-wordpress-block-config", BLOCK),
    ),
    "mysql dir audit write": (
        WP + "ksp-mysql-audit-dir.yaml",
        lambda e: e.open("/var/lib/mysql/test", "/usr/bin/touch", "O_WRONLY|O_CREAT", ctr=MYSQL),
        ("ksp-mysql-audit-dir", "Audit"),
    ),
    "mysql policy ignores wordpress": (
        WP + "ksp-mysql-audit-dir.yaml",
        lambda e: e.open("/var/lib/mysql/test", ctr=WORDPRESS),
        None,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_reference_policy_matches_as_kubearmor_does(case: Case, ev, engine_from) -> None:
    require(POLICIES.is_dir(), f"{POLICIES} missing")
    relative, build, expected = case
    engine = engine_from(POLICIES / relative)
    alerts = engine.evaluate([build(ev)])
    got = [(a.rule_id, a.extra["kubearmor.action"]) for a in alerts]
    assert got == ([expected] if expected else [])
    for alert in alerts:
        assert alert.result == "Passed"
        assert alert.enforcer == "eBPF Monitor"
        assert alert.policy_type == (
            "MatchedHostPolicy" if alert.event.container is None else "MatchedPolicy"
        )

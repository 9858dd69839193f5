"""A small model of what a shell command makes the kernel sensors report.

The attack suites list commands (`cat /etc/shadow`, `sh -c "ln -sf ... && ..."`,
`perl -e '...memfd...'`); the real-kernel replay runs them in runc containers. This
model turns each command into the Events our sensors decode for it, so the rule
engine can be checked against every suite at unit level. The mapping:

- `sh -c SCRIPT`: an exec of `/bin/sh` (exe: busybox or dash, per image), then every
  simple command of SCRIPT (split on `;`, `&&`, `||`, `|`) with the shell as parent;
  `$(...)` runs first (`command -v X` yields X's path, `cat F` opens F), `$$` is the
  shell's pid, redirections open their targets, builtins (echo, printf, true,
  command, cd, export, exit) exec nothing, `VAR=value` words are assignments.
- any other command: an exec of the resolved binary (`/bin/busybox` for applets in
  busybox images, `/usr/bin/NAME` otherwise, the path itself when it has a `/`;
  a copied binary keeps the program it was copied from), then its own effects:
  `cat`/`head` open their file arguments; `ls` alone opens the working directory;
  `cp` opens source and destination;
  `ln -s T L` is symlinkat(T, L), `ln T L` linkat(T, L); `getent hosts N` opens the
  resolver files and sends a DNS question for N (first through the pod's search
  domain, then as given) and `curl URL` does the same for URL's host; `nc [-w s] H P`
  connects to H:P; `whoami`/`id` read
  /etc/passwd (and /etc/group); `perl -e CODE` does what CODE's syscalls say:
  `syscall(319,…)` memfd_create and `exec("/proc/$$/fd/$fd")` a fileless exec of
  `/proc/PID/fd/3` whose exe is `/memfd:NAME (deleted)`; `syscall(321,5,…)`
  bpf(BPF_PROG_LOAD) failing with EPERM; `sockaddr_in(P, inet_aton(H))` a connect;
  `IO::Socket::SSL` to `$ENV{KUBERNETES_SERVICE_HOST}` a connect to the API server;
  `open(…, '<', F)` an open of F.
Every open succeeds (the suites assert detections that need the open to pass).
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field

from beholder.events.model import ContainerInfo, Event, ProcessInfo
from bob import builders

BUILTINS = frozenset({"echo", "printf", "true", "false", "command", "cd", "export", "exit", ":"})
APPLETS = frozenset({"cat", "head", "ln", "ls", "cp", "chmod", "rm", "nc", "getent", "id", "whoami", "sh"})
SUBSTITUTION = re.compile(r"\$\(([^()]*)\)")
FD_DUP = re.compile(r"\d*>&\d+")
REDIRECT = re.compile(r"\s\d*>\s*\S+")
FD_EXEC = re.compile(r"/proc/(\$\$|\d+)/fd/")
PERL_CONNECT = re.compile(r"sockaddr_in\((\d+)\s*,\s*inet_aton\(['\"]([0-9.]+)['\"]\)\)")
PERL_OPEN = re.compile(r"open\(my \$\w+\s*,\s*'<'\s*,\s*'([^']+)'\)")
LIST_DIR_FLAGS = "O_RDONLY|O_NONBLOCK|O_DIRECTORY|O_CLOEXEC"
RESOLVER_FILES = ("/etc/nsswitch.conf", "/etc/hosts", "/etc/resolv.conf")


@dataclass(slots=True)
class Image:
    """How command names resolve inside one container image."""

    busybox: bool = False
    shell_exe: str = "/usr/bin/dash"
    cwd: str = "/"

    def resolve(self, word: str) -> tuple[str, str]:
        """(path given to execve, executable the kernel reports)."""
        if "/" in word:
            return word, word
        if self.busybox and word in APPLETS:
            return f"/bin/{word}", "/bin/busybox"
        if word == "sh":
            return "/bin/sh", self.shell_exe
        return f"/usr/bin/{word}", f"/usr/bin/{word}"


@dataclass(slots=True)
class ShellModel:
    container: ContainerInfo
    image: Image
    api_server: str = "10.43.0.1"
    search_domain: str = "svc.cluster.local"
    copies: dict[str, str] = field(default_factory=dict)  # copied file -> program it runs

    def run(self, argv: list[str], parent_exe: str = "/usr/bin/runc") -> list[Event]:
        """Events for one command as a container exec (or the given parent) starts it."""
        return self._command(argv, parent_exe)

    # --- commands ------------------------------------------------------------------
    def _command(self, argv: list[str], parent_exe: str) -> list[Event]:
        if not argv or argv[0] in BUILTINS or "=" in argv[0]:
            return []
        path, exe = self.image.resolve(argv[0])
        ev = builders.exec_event(
            self.container, path, tuple(argv), exe=exe, parent_exe=parent_exe, cwd=self.image.cwd
        )
        events = [ev]
        proc = ev.process
        assert proc is not None
        program = self.copies.get(path, os.path.basename(argv[0]))
        if program == "sh" and argv[1:2] == ["-c"]:
            events += self._script(argv[2], proc)
        else:
            events += self._effects(program, argv[1:], proc)
        return events

    def _script(self, script: str, shell: ProcessInfo) -> list[Event]:
        events: list[Event] = []

        def substitute(match: re.Match[str]) -> str:
            words = shlex.split(REDIRECT.sub("", match.group(1)))
            if words[:2] == ["command", "-v"]:
                return self.image.resolve(words[2])[0]
            events.extend(self._command(words, shell.exe))
            return "output"

        script = SUBSTITUTION.sub(substitute, script).replace("$$", str(shell.pid))
        script = FD_DUP.sub("", script)
        lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|<>")
        lexer.whitespace_split = True
        words: list[str] = []
        redirect = ""
        for token in lexer:
            if token in (";", "&&", "||", "|", "&"):
                events += self._command(words, shell.exe)
                words = []
            elif token in (">", ">>", "<"):
                redirect = token
            elif redirect:
                flags = {"<": "O_RDONLY", ">": "O_WRONLY|O_CREAT|O_TRUNC", ">>": "O_WRONLY|O_CREAT|O_APPEND"}
                events.append(builders.open_event(self.container, token, flags[redirect], shell))
                redirect = ""
            else:
                words.append(token)
        return events + self._command(words, shell.exe)

    def _effects(self, program: str, args: list[str], proc: ProcessInfo) -> list[Event]:
        c = self.container
        files = [a for a in args if not a.startswith("-")]
        if program == "ls" and not files:
            return [builders.open_event(c, self.image.cwd, LIST_DIR_FLAGS, proc)]
        if program in ("cat", "head"):
            return [builders.open_event(c, f, "O_RDONLY", proc) for f in files]
        if program == "cp" and len(files) == 2:
            self.copies[files[1]] = self.copies.get(files[0], os.path.basename(files[0]))
            return [
                builders.open_event(c, files[0], "O_RDONLY", proc),
                builders.open_event(c, files[1], "O_WRONLY|O_CREAT|O_TRUNC", proc),
            ]
        if program == "ln" and len(files) == 2:
            if any(a.startswith("-") and "s" in a for a in args):
                return [builders.symlink_event(c, files[0], files[1], proc)]
            return [builders.link_event(c, files[0], files[1], proc)]
        if program == "getent" and files[:1] == ["hosts"]:
            opens = [builders.open_event(c, f, "O_RDONLY|O_CLOEXEC", proc) for f in RESOLVER_FILES]
            names = [f"{files[1]}.{c.namespace}.{self.search_domain}", files[1]]
            return opens + [builders.dns_event(c, n, proc) for n in names]
        if program == "curl" and files:
            host = files[0].split("://")[-1].split("/")[0]
            return [
                builders.dns_event(c, n, proc) for n in (f"{host}.{c.namespace}.{self.search_domain}", host)
            ]
        if program == "nc" and len(files) >= 2:
            return [builders.connect_event(c, files[-2], int(files[-1]), proc, retval=-115)]
        if program in ("whoami", "id"):
            paths = ("/etc/passwd", "/etc/group") if program == "id" else ("/etc/passwd",)
            return [builders.open_event(c, p, "O_RDONLY|O_CLOEXEC", proc) for p in paths]
        if program == "perl" and args[:1] == ["-e"]:
            return self._perl(args[1], proc)
        return []

    def _perl(self, code: str, proc: ProcessInfo) -> list[Event]:
        c = self.container
        events = [builders.open_event(c, f, "O_RDONLY|O_CLOEXEC", proc) for f in PERL_OPEN.findall(code)]
        if "syscall(319" in code:
            memfd = builders.syscall_event(c, "memfd_create", proc, retval=3, flags="0x0")
            memfd.resource = "bobfl"
            events.append(memfd)
            if FD_EXEC.search(code):
                fd_path = f"/proc/{proc.pid}/fd/3"
                events.append(
                    builders.exec_event(
                        c,
                        fd_path,
                        (fd_path, "memfd_exec_done"),
                        exe="/memfd:bobfl (deleted)",
                        parent_exe=proc.parent_exe,
                    )
                )
        if "syscall(321,5" in code.replace(" ", ""):
            events.append(builders.syscall_event(c, "bpf", proc, retval=-1, cmd="5"))
        for port, host in PERL_CONNECT.findall(code):
            events.append(builders.connect_event(c, host, int(port), proc))
        if "IO::Socket::SSL" in code and "KUBERNETES_SERVICE_HOST" in code:
            events.append(builders.connect_event(c, self.api_server, 443, proc))
        return events

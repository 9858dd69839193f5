"""Read policy files and directories into validated `Policy` objects.

Every problem becomes one line that names the file, the policy (or document number) and
the field, and every problem is listed; a bad document never stops the others. Directories
are read recursively for `*.yaml`/`*.yml`, in sorted order so results do not depend on the filesystem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from beholder.policy.model import Policy, build_policy
from beholder.policy.schema import NOT_EVALUATED_KINDS, crd_errors, kubearmor_errors
from beholder.policy.yamlsafe import MAX_BYTES, error_line, load_documents

SUFFIXES = (".yaml", ".yml")


@dataclass(slots=True)
class FileResult:
    """What one file yielded: `readable` is False when the file itself could not be parsed."""

    path: str
    policies: list[Policy] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line per problem
    skipped: list[str] = field(default_factory=list)
    unevaluated: list[str] = field(default_factory=list)  # documents of a kind Beholder does not evaluate
    invalid: int = 0  # documents rejected (or 1 for a file that cannot be parsed)
    readable: bool = True
    rejected: set[tuple[str, str, str]] = field(default_factory=set)  # keys of invalid policies


def policy_files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Expand directories; a path that does not exist is an error, not a silent no-op."""
    files: list[Path] = []
    errors: list[str] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p for p in path.rglob("*") if _visible(p, path) and p.suffix in SUFFIXES and p.is_file()
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            errors.append(f"{path}: no such file or directory")
    return files, errors


def _label(doc: Any, index: int) -> str:
    if isinstance(doc, dict):
        meta = doc.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        kind = doc.get("kind")
        namespace = meta.get("namespace") if isinstance(meta, dict) else None
        if isinstance(name, str) and namespace and isinstance(namespace, str):
            name = f"{namespace}/{name}"  # objects from the API server differ by namespace only
        if isinstance(name, str) and isinstance(kind, str):
            return f"{kind} {name!r}"
    return f"document {index + 1}"


def _key(doc: Any) -> tuple[str, str, str] | None:
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        return None
    return (str(doc.get("kind")), str(meta.get("namespace") or ""), meta["name"])


def load_text(text: str, origin: str) -> FileResult:
    """Parse and validate every document of one file's text."""
    try:
        docs = load_documents(text)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        return FileResult(origin, errors=[error_line(origin, exc)], invalid=1, readable=False)
    notes = [
        f"{origin}: {_label(doc, i)}: {note}" for i, doc in enumerate(docs) for note in _normalise_dirs(doc)
    ]
    result = load_docs(docs, origin)
    result.skipped[:0] = notes
    return result


def _normalise_dirs(doc: Any) -> list[str]:
    """A file's `dir: /etc/default` (no trailing slash) is read as `/etc/default/`, with a note.

    KubeArmor's non-Kubernetes mode loads such host policies from files; its CRD rejects them,
    so objects from the API server keep that strictness (`load_docs` alone).
    """
    spec = doc.get("spec") if isinstance(doc, dict) else None
    notes: list[str] = []
    for section in ("process", "file"):
        body = spec.get(section) if isinstance(spec, dict) else None
        rules = body.get("matchDirectories") if isinstance(body, dict) else None
        for i, rule in enumerate(rules if isinstance(rules, list) else []):
            if not isinstance(rule, dict):
                continue
            entries = [(f"spec.{section}.matchDirectories[{i}]", rule)]
            sources = rule.get("fromSource")
            entries += [
                (f"spec.{section}.matchDirectories[{i}].fromSource[{j}]", src)
                for j, src in enumerate(sources if isinstance(sources, list) else [])
                if isinstance(src, dict)
            ]
            for where, entry in entries:
                value = entry.get("dir")
                if isinstance(value, str) and value.startswith("/") and not value.endswith("/"):
                    entry["dir"] = value + "/"
                    notes.append(f"{where}.dir {value!r} has no trailing '/': read as {value + '/'!r}")
    return notes


def load_docs(docs: list[Any], origin: str) -> FileResult:
    """Validate already-parsed documents (a file's, or objects listed from the API server)."""
    result = FileResult(origin)
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        label = _label(doc, index)
        if isinstance(doc, dict) and doc.get("kind") in NOT_EVALUATED_KINDS:
            note = f"{origin}: {label}: kind {doc['kind']} is not evaluated by Beholder"
            result.skipped.append(note)
            result.unevaluated.append(note)
            continue
        problems = crd_errors(doc) or kubearmor_errors(doc)
        if problems:
            result.errors.extend(f"{origin}: {label}: {problem}" for problem in problems)
            result.invalid += 1
            key = _key(doc)
            if key is not None:
                result.rejected.add(key)
            continue
        policy = build_policy(doc, origin)
        result.policies.append(policy)
        result.skipped.extend(f"{origin}: {label}: {note}" for note in policy.notes)
    return result


def load_file(path: Path) -> FileResult:
    try:
        if path.stat().st_size > MAX_BYTES:
            return FileResult(
                str(path), errors=[f"{path}: larger than {MAX_BYTES} bytes"], invalid=1, readable=False
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return FileResult(str(path), errors=[f"{path}: cannot read: {exc}"], invalid=1, readable=False)
    return load_text(text, str(path))


def _visible(path: Path, root: Path) -> bool:
    """Skip hidden entries: a ConfigMap volume also holds `..data` and `..<timestamp>` copies."""
    return not any(part.startswith(".") for part in path.relative_to(root).parts)

"""Keep the evaluators fed from files and the cluster, each change one snapshot swap.

`LiveSources` builds the policy engine and the profile engine the agent evaluates with and
keeps them current: policy and profile files (reloaded when they change, ConfigMap symlink
swap included, and on SIGHUP), KubeArmor policy CRDs, namespace annotations (postures,
visibility) and Kubescape profiles from the API server. Every update runs under one lock
(watch threads and the file thread never interleave) and ends in one assignment inside
the engine, so evaluation sees the old set or the new one, never a gap or a mix. A bad
object or file is one line, printed once while it stays bad; the previous valid version
stays in force.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beholder.events.interfaces import Evaluator, HostIdentity
from beholder.policy.evaluate import CLUSTER_ORIGIN, PolicyEngine, Posture
from beholder.sources.cluster import NAMESPACES, POLICY_RESOURCES, PROFILE_RESOURCES, ClusterWatches
from beholder.sources.files import FileWatcher
from beholder.sources.visibility import EVERYTHING, Visibility, Visible, describe

if TYPE_CHECKING:
    from beholder.bob.engine import ProfileEngine
    from beholder.bob.profile import Profile

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Settings:
    """Cluster-wide defaults, KubeArmor's settings under their KubeArmor names."""

    posture: Posture = field(default_factory=Posture)  # defaultFilePosture, … (containers)
    host_posture: Posture = field(default_factory=Posture)  # hostDefaultFilePosture, …
    visibility: Visible = EVERYTHING  # visibility
    host_visibility: Visible = EVERYTHING  # hostVisibility


@dataclass(slots=True)
class Cluster:
    """Where the API server is (a kubernetes.client.ApiClient) and how to say so."""

    api: Any
    source: str
    watch_options: dict[str, Any] = field(default_factory=dict)


class LiveSources:
    """Owns the policy and profile engines and everything that updates them."""

    def __init__(
        self,
        host: HostIdentity,
        settings: Settings,
        say: Say,
        *,
        policy_paths: Iterable[Path] = (),
        profile_paths: Iterable[Path] = (),
        bindings: Mapping[str, str] | None = None,
        profile_options: Mapping[str, Any] | None = None,
        cluster: Cluster | None = None,
        lsm_enforcing: bool = False,
    ) -> None:
        self.settings = settings
        self.policy_paths = list(policy_paths)
        self.profile_paths = list(profile_paths)
        self._say = say
        self._lock = threading.Lock()
        self._shown: dict[str, set[str]] = {}
        self.updates = 0  # snapshots swapped in after the first load
        self.visibility = Visibility(settings.visibility, settings.host_visibility)
        self.policies: PolicyEngine | None = None
        self.profiles: ProfileEngine | None = None
        if self.policy_paths or cluster is not None:
            self.policies = PolicyEngine(
                host, settings.posture, host_posture=settings.host_posture, lsm_enforcing=lsm_enforcing
            )
            self._load_policy_files()
        self._file_profiles: dict[str, list[Profile]] = {}
        self._cluster_profiles: list[Profile] = []
        if self.profile_paths or cluster is not None:
            from beholder.bob.engine import ProfileEngine

            self._load_profile_files()
            self.profiles = ProfileEngine(self._all_profiles(), bindings, **(profile_options or {}))
        self.files: FileWatcher | None = None
        if self.policy_paths or self.profile_paths:
            self.files = FileWatcher([*self.policy_paths, *self.profile_paths], self.reload_files)
        self.cluster: ClusterWatches | None = None
        if cluster is not None:
            self.cluster = ClusterWatches(
                cluster.api, cluster.source, self._cluster_changed, **cluster.watch_options
            )

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def evaluators(self) -> list[Evaluator]:
        return [e for e in (self.policies, self.profiles) if e is not None]

    def start(self) -> None:
        if self.files is not None:
            self.files.start()
        if self.cluster is not None:
            self.cluster.start()

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        if self.files is not None:
            self.files.stop()

    def request_reload(self) -> None:
        """SIGHUP: re-read the files on the file thread (safe inside a signal handler)."""
        if self.files is None:
            self._say("SIGHUP: no policy or profile files to reload; still running")
            return
        self.files.request()

    # -- updates ---------------------------------------------------------------------------

    def reload_files(self, reason: str) -> None:
        """Re-read every policy and profile file; bad ones keep their previous content."""
        with self._lock:
            if self.policies is not None:
                self._load_policy_files()
            if self.profiles is not None:
                self._load_profile_files()
                self.profiles.replace_profiles(self._all_profiles())
            self.updates += 1
        policies = len(self.policies.policies) if self.policies else 0
        profiles = len(self.profiles.profiles) if self.profiles else 0
        self._say(f"reloaded files ({reason}): {policies} policies, {profiles} profiles files+cluster")

    def _cluster_changed(self, kind: str) -> None:
        """A watch store changed: rebuild what depends on that kind and swap it in."""
        cluster = self.cluster
        if cluster is None:
            return
        with self._lock:
            if kind in {r.kind for r in POLICY_RESOURCES} and self.policies is not None:
                errors = self.policies.apply_cluster_policies(cluster.objects(POLICY_RESOURCES))
                self._show("cluster policies", errors, "policy rejected")
            elif kind == NAMESPACES.kind:
                annotations = {
                    obj["metadata"]["name"]: _annotations(obj) for obj in cluster.objects((NAMESPACES,))
                }
                if self.policies is not None:
                    self.policies.set_namespace_postures(annotations)
                self.visibility.set_namespaces(annotations)
                self._show("namespaces", list(self.visibility.errors.values()), "annotation ignored")
            elif kind in {r.kind for r in PROFILE_RESOURCES} and self.profiles is not None:
                from beholder.bob.cluster import profiles_from_objects

                self._cluster_profiles, errors = profiles_from_objects(cluster.objects(PROFILE_RESOURCES))
                self.profiles.replace_profiles(self._all_profiles())
                self._show("cluster profiles", errors, "profile rejected")
            self.updates += 1

    def _load_profile_files(self) -> None:
        from beholder.bob.engine import expand_paths
        from beholder.bob.profile import ProfileError, load_file

        loaded: dict[str, list[Profile]] = {}
        errors: list[str] = []
        for path in expand_paths(self.profile_paths):
            try:
                loaded[str(path)] = load_file(path)
            except ProfileError as exc:
                errors.append(str(exc))
                loaded[str(path)] = self._file_profiles.get(str(path), [])  # keep the last good one
        self._file_profiles = loaded
        self._show("profile files", errors, "profile rejected")

    def _all_profiles(self) -> list[Profile]:
        return [p for profiles in self._file_profiles.values() for p in profiles] + self._cluster_profiles

    def _load_policy_files(self) -> None:
        assert self.policies is not None
        self._show("policy files", self.policies.reload(self.policy_paths), "policy rejected")
        self._show("policy notes", self.policies.skipped, "policy note")  # e.g. a dir read as dir/

    def _show(self, channel: str, errors: list[str], prefix: str) -> None:
        """Say each error line once while it persists; a fixed one may be said again later."""
        now = set(errors)
        for line in errors:
            if line not in self._shown.get(channel, set()):
                self._say(f"{prefix}: {line}")
        self._shown[channel] = now

    # -- diagnostics -----------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        """What the sources hold now: for the stats file and `beholder k8s`."""
        out: dict[str, Any] = {"updates": self.updates}
        if self.policies is not None:
            engine = self.policies
            out["policies"] = [
                {
                    "kind": p.kind,
                    "namespace": p.namespace or "",
                    "name": p.name,
                    "origin": "cluster" if p.origin == CLUSTER_ORIGIN else p.origin,
                }
                for p in engine.policies
            ]
            namespaces = sorted(engine.namespace_annotations)
            out["postures"] = {
                "default": _posture(engine.default_posture),
                "host": _posture(engine.host_posture),
                **{ns: _posture(engine.posture_of(ns)) for ns in namespaces},
            }
        out["visibility"] = {
            "default": describe(self.visibility.containers),
            "host": describe(self.visibility.host),
            **{ns: describe(v) for ns, v in sorted(self.visibility.namespaces.items())},
        }
        if self.profiles is not None:
            from_cluster = {id(p) for p in self._cluster_profiles}
            out["profiles"] = [
                {
                    "kind": p.kind,
                    "namespace": p.namespace,
                    "name": p.name,
                    "origin": "cluster" if id(p) in from_cluster else p.source,
                }
                for p in self._all_profiles()
            ]
            out["bound_profiles"] = self.profiles.bound_profiles()
        if self.cluster is not None:
            out["watches"] = self.cluster.stats()
        return out


def _annotations(obj: Mapping[str, Any]) -> dict[str, str]:
    notes = obj.get("metadata", {}).get("annotations")
    if not isinstance(notes, Mapping):
        return {}
    return {k: v for k, v in notes.items() if isinstance(k, str) and isinstance(v, str)}


def _posture(posture: Posture) -> dict[str, str]:
    return {"file": posture.file, "network": posture.network, "capabilities": posture.capabilities}

"""Live sources of policies, profiles and settings: cluster watches and files.

The cluster is the source of truth and files are the embedded default. `LiveSources`
(live.py) owns what feeds the evaluators: KubeArmor policy CRDs, namespace annotations
(postures, visibility) and Kubescape profiles watched from the API server
(`ClusterWatches`, cluster.py, on the same list+watch loop as the pod watcher), and the
policy/profile files and directories (`FileWatcher`, files.py, which also notices a
ConfigMap volume's `..data` symlink swap). Every change is swapped into the engines as
one snapshot; SIGHUP asks for the same reload by hand.
"""

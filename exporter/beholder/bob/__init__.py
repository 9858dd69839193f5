"""Bill of Behaviour: Kubescape profiles loaded unchanged, matched inline, learned and compared.

- `profile`: ApplicationProfile / ContainerProfile / NetworkNeighborhood in and out.
- `cluster`: the same objects listed from the cluster's storage API.
- `match`: Kubescape's `⋯` / `*` path, argv and DNS semantics as indexed matchers.
- `behaviour`: one container's bound profile(s) compiled for lookups.
- `rules`: the node-agent rule catalogue (R0001…R1030) as predicates over events.
- `engine`: binding and evaluation; the pipeline's `Evaluator` (plus `observe_syscalls`).
- `generalize`, `learn`, `merge`, `diff`, `seccomp`, `recorded`: `beholder profile` commands.

Alerts carry facts only; `formats.kubescape` renders them as node-agent alert JSON.
"""

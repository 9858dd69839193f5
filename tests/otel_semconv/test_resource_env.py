"""A broken OTEL_RESOURCE_ATTRIBUTES entry is one line on stderr; the valid pairs still reach the resource."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from beholder.cli.outputs import OutputContext, build_sinks
    from beholder.events.interfaces import HostIdentity
    from beholder.otel.resource import resource_attributes
    from beholder.otel.metrics import start_metrics

    host = HostIdentity("node-1", "node-1", "c")
    sinks = build_sinks((f"otlp-file:{sys.argv[1]}",), OutputContext(host))
    runtime = start_metrics(resource_attributes(host), None, ("127.0.0.1", 0))
    runtime.shutdown()
    for sink in sinks:
        sink.close()
    print(json.dumps(resource_attributes(host)))
    """
)


def test_broken_pair_is_one_line_and_valid_pairs_are_kept(tmp_path) -> None:
    env = {**os.environ, "OTEL_RESOURCE_ATTRIBUTES": "team=sec,broken,env=prod"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "out.jsonl")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "OTEL_RESOURCE_ATTRIBUTES: entry 'broken' is not key=value; ignoring those entries"
    ]
    resource = json.loads(proc.stdout)
    assert (resource["team"], resource["env"], "broken" in resource) == ("sec", "prod", False)

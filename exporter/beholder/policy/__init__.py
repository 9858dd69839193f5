"""KubeArmor policies evaluated inline: load → validate → compile → evaluate.

The pipeline wires `PolicyEngine` as an `Evaluator`; `beholder policy check` uses the same
loader, so what the CLI accepts is exactly what the agent enforces.
"""

from beholder.policy.evaluate import PolicyEngine, Posture

__all__ = ["PolicyEngine", "Posture"]

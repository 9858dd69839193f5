"""Renderings of events and alerts: KubeArmor JSON, console lines."""

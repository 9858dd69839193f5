"""Test harnesses shared by the suites: the agent as a subprocess, runc containers."""

"""The running agent's local query endpoint, and the offline readers that stand in for it."""

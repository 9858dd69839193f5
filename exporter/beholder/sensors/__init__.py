"""Kernel sensors: BPF program assembly, loading, ring-buffer reading and decoding."""

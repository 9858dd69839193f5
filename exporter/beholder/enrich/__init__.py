"""Enrichment: process tree, container identity, Kubernetes metadata."""

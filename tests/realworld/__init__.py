"""Real workloads (Debian PostgreSQL and MariaDB under runc) against the Argo-CD-style suites."""

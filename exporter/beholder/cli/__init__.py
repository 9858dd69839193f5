"""The `beholder` command line."""

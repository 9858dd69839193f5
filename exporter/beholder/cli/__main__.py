"""`python -m beholder.cli`: the same as the `beholder` console script."""

from beholder.cli.main import main

main()

"""`python -m ecr_sweeper`."""

from ecr_sweeper.cli import main

main()

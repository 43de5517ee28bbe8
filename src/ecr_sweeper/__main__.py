"""`python -m ecr_sweeper`."""

from ecr_sweeper.entry import main

main()

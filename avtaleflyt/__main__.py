"""`python -m avtaleflyt` is the same as the `avtaleflyt` command."""

from avtaleflyt.cli.entry import main

main()

"""`python -m avtaleflyt` is the same as the `avtaleflyt` command."""

from avtaleflyt.cli.main import main

main()

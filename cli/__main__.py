"""`python -m cli` is the `pipeline` command."""

from cli.main import main

main()

"""``python -m reactor``: the reactor command line."""

from reactor.cli import main

main()

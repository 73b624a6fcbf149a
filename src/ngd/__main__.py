"""``python -m ngd``: the command line."""
from ngd.cli.main import main

main()

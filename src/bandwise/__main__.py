"""`python -m bandwise` runs the command line."""

from bandwise.cli.main import main

main()

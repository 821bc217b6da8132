"""`python -m service` runs the `kgrec` command line."""

from service.cli import main

main(prog_name="kgrec")

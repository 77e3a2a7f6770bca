"""``python -m tfgen`` runs the command line, like the ``tfgen`` script."""

from tfgen.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())

"""The ``tfgen`` command line: a thin layer over :mod:`tfgen.cli.train_lib`."""

"""tfgen's version, read by setup.cfg and exposed as ``tfgen.__version__``."""

__version__ = "0.1.0"

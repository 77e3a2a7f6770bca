"""A quiet start for the ``tfgen`` command line.

``tfgen/__init__.py`` imports this module before anything imports TensorFlow.
It does nothing unless this process is the ``tfgen`` command (the console
script, ``python -m tfgen`` or ``python -m tfgen.cli.main``) run without
``--verbose``: a program that imports tfgen keeps its logging as it was. For
the command it

* sets ``TF_CPP_MIN_LOG_LEVEL=3`` (fatal C++ messages only) unless the
  environment sets the variable already, and
* imports TensorFlow and Keras while file descriptor 2 (stderr) goes to a
  temporary file, then writes back only the C++ log lines that
  ``TF_CPP_MIN_LOG_LEVEL`` admits. TensorFlow 2.21 logs a few lines while
  its libraries load (oneDNN, CUDA drivers, CPU instructions, absl's
  "before absl::InitializeLog()" warning) without applying the variable;
  later lines do apply it. Other output of those imports (Python warnings,
  absl-py messages) is dropped.

``tfgen --verbose ...`` skips both, so TensorFlow logs as the environment says.
"""

import importlib
import os
import re
import sys
import tempfile

VERBOSE_FLAG = "--verbose"
# How the command can be started: the console script's file names, and the modules `python -m` runs.
SCRIPT_NAMES = ("tfgen", "tfgen.exe", "tfgen-script.py", "tfgen-script.pyw")
MODULE_NAMES = ("tfgen", "tfgen.__main__", "tfgen.cli.main")
QUIET_LOG_LEVEL = "3"
QUIET_IMPORTS = ("tensorflow", "keras")

_SEVERITIES = "IWEF"  # TensorFlow's C++ log levels 0-3: info, warning, error, fatal
_LOG_LINE = re.compile(r"([IWEF])\d{4} ")  # "I0000 00:00:1796341604.043139    3718 port.cc:153] ..."
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_PYTHON_WARNING = re.compile(r"\S.*:\d+: \w*Warning: ")  # "/path/module.py:12: UserWarning: ..."


def verbose_requested(args):
    """True when ``args`` (the command-line arguments after the program) hold ``--verbose`` before any ``--``."""
    args = list(args)
    end = args.index("--") if "--" in args else len(args)
    return VERBOSE_FLAG in args[:end]


def remove_verbose_flag(args):
    """``args`` without the ``--verbose`` flags that :func:`verbose_requested` sees."""
    args = list(args)
    end = args.index("--") if "--" in args else len(args)
    return [arg for arg in args[:end] if arg != VERBOSE_FLAG] + args[end:]


def running_as_cli(argv=None, orig_argv=None):
    """True when this process is the ``tfgen`` command rather than a program that imports tfgen.

    Args:
        argv: ``sys.argv`` (default: the real one). While ``python -m MODULE``
            imports MODULE's packages, ``argv[0]`` is ``"-m"``.
        orig_argv: ``sys.orig_argv`` (Python >= 3.10), the interpreter's own
            command line, which names MODULE.
    """
    argv = getattr(sys, "argv", None) if argv is None else argv
    if not argv:  # an embedded interpreter
        return False
    if argv[0] == "-m":
        orig_argv = getattr(sys, "orig_argv", None) if orig_argv is None else orig_argv
        if not orig_argv or len(orig_argv) <= len(argv):
            return True  # Python 3.9: some module of tfgen is being run with -m; take it for the command
        # The arguments after MODULE are argv[1:], so MODULE ("-m tfgen") or "-mtfgen" comes just before them.
        token = orig_argv[-len(argv)]
        module = token.partition("m")[2] if token.startswith("-") else token
        return module in MODULE_NAMES
    return os.path.basename(argv[0]) in SCRIPT_NAMES


def admitted_log_lines(text, min_log_level):
    """The C++ log lines of ``text`` that ``TF_CPP_MIN_LOG_LEVEL=min_log_level`` lets through.

    A line that is not a log line belongs to the line before it (a message
    can span lines); Python warnings and text before the first log line are
    dropped.

    Args:
        text: what was written to stderr.
        min_log_level: int, 0 (everything) to 3 (fatal messages only).

    Returns:
        The admitted lines, as one string.
    """
    kept, keep = [], False
    for line in text.splitlines(keepends=True):
        match = _LOG_LINE.match(line)
        if match:
            keep = _SEVERITIES.index(match.group(1)) >= min_log_level
        elif line.startswith(_ABSL_PREAMBLE):
            keep = min_log_level <= _SEVERITIES.index("W")
        elif _PYTHON_WARNING.match(line):
            keep = False
        if keep:
            kept.append(line)
    return "".join(kept)


def _min_log_level():
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0  # TensorFlow reads an unparsable value as 0 too


def import_quietly(modules, min_log_level):
    """Imports ``modules`` with stderr captured; writes back the admitted C++ log lines."""
    try:
        sys.stderr.flush()
        saved_stderr = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no stderr to keep quiet
        for module in modules:
            importlib.import_module(module)
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            for module in modules:
                importlib.import_module(module)
        finally:
            sys.stderr.flush()
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
            capture.seek(0)
            admitted = admitted_log_lines(capture.read().decode("utf-8", "replace"), min_log_level)
            if admitted:
                sys.stderr.write(admitted)
                sys.stderr.flush()


def quiet_start():
    """Makes TensorFlow's C++ logging quiet for this process (see the module docstring)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_LOG_LEVEL)
    import_quietly(QUIET_IMPORTS, _min_log_level())


if running_as_cli() and not verbose_requested(sys.argv[1:]):
    quiet_start()

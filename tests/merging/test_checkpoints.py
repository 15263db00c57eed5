"""eegkit.merging.checkpoints: fine-tuned checkpoints → one checkpoint evaluate.py loads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eegkit.cli.evaluate import evaluate
from eegkit.cli.fit import train
from eegkit.data.types import DataError
from eegkit.merging.__main__ import main
from eegkit.merging.checkpoints import merge_checkpoints
from tests.cli.test_fit_evaluate import CONFIG, TINY
from tests.data.readers.test_window_readers import write_har


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny EEGNet runs on a format-faithful UCI HAR folder (different seeds)."""
    root = tmp_path_factory.mktemp("soup")
    layout = {"train": [s for s in (1, 3, 5, 6) for _ in range(4)], "test": [2] * 5}
    data = ["--config", str(CONFIG), "--data.init_args.path",
            str(write_har(root, np.random.default_rng(0), layout)),
            "--data.init_args.batch_size", "4", *TINY]
    ckpts = []
    for seed in (0, 1):
        out = root / f"seed{seed}"
        train(args=[*data, "--out_dir", str(out), "--trainer.max_epochs", "1",
                    "--seed_everything", str(seed)])
        ckpts.append(out / "checkpoints" / "last.ckpt")
    return data, ckpts


def _load(path):
    return torch.load(path, map_location="cpu", weights_only=False)


@pytest.mark.filterwarnings("ignore:LightningCLI's args parameter")
def test_a_soup_is_the_mean_of_the_weights_and_evaluates_like_any_checkpoint(runs, tmp_path,
                                                                             capsys):
    data, ckpts = runs
    out = tmp_path / "soup.ckpt"
    main(["checkpoints", *map(str, ckpts), "--out", str(out)])
    assert f"average of 2 checkpoints -> {out}" in capsys.readouterr().out
    a, b, soup = _load(ckpts[0]), _load(ckpts[1]), _load(out)
    floats = [k for k, v in a["state_dict"].items() if v.is_floating_point()]
    assert any("running_var" in k for k in floats)  # BatchNorm statistics are averaged too
    for k, v in soup["state_dict"].items():
        if k in floats:
            torch.testing.assert_close(v, (a["state_dict"][k] + b["state_dict"][k]) / 2)
        else:  # num_batches_tracked: the first model's
            assert torch.equal(v, a["state_dict"][k])
    assert soup["hyper_parameters"] == a["hyper_parameters"]
    assert not {"optimizer_states", "lr_schedulers", "loops", "callbacks"} & set(soup)
    assert soup["eegkit_merge"]["method"] == "average"
    assert soup["eegkit_merge"]["checkpoints"] == [str(p.resolve()) for p in ckpts]
    assert evaluate(args=[*data, "--out_dir", str(tmp_path / "eval"),
                          "--ckpt_path", str(out)])["n"] == 5

    weighted = merge_checkpoints(ckpts, tmp_path / "w.ckpt", weights=[3, 1])
    stat = next(k for k in floats if "running_var" in k)
    for name in (floats[0], stat):  # statistics weighed like the weights
        torch.testing.assert_close(_load(weighted)["state_dict"][name],
                                   0.75 * a["state_dict"][name] + 0.25 * b["state_dict"][name])


def test_task_arithmetic_needs_and_uses_the_ancestor(runs, tmp_path):
    _, ckpts = runs
    with pytest.raises(ValueError, match="give the ancestor checkpoint"):
        merge_checkpoints(ckpts, tmp_path / "ta.ckpt", "task_arithmetic", lam=0.5)
    # with the first run as "ancestor": θ = θ_0 + 0.5 (θ_1 − θ_0)
    out = merge_checkpoints(ckpts, tmp_path / "ta.ckpt", "task_arithmetic", ancestor=ckpts[0],
                            lam=0.5)
    a, b = _load(ckpts[0])["state_dict"], _load(ckpts[1])["state_dict"]
    merged = _load(out)["state_dict"]
    name = next(k for k, v in a.items() if k.endswith("weight") and v.is_floating_point())
    torch.testing.assert_close(merged[name], a[name] + 0.5 * (b[name] - a[name]))


def test_bad_inputs_name_the_file(runs, tmp_path, capsys):
    _, ckpts = runs
    out = tmp_path / "soup.ckpt"
    with pytest.raises(ValueError, match="two or more checkpoints"):
        merge_checkpoints(ckpts[:1], out)
    with pytest.raises(ValueError, match=r"'ties' takes the options \['density', 'lam'\], "
                                         r"not \['weights'\]"):
        merge_checkpoints(ckpts, out, "ties", ancestor=ckpts[0], weights=[1, 2])
    with pytest.raises(ValueError, match="unknown merging method 'soup'"):
        merge_checkpoints(ckpts, out, "soup")
    with pytest.raises(DataError, match="nope.ckpt: no such checkpoint file"):
        merge_checkpoints([ckpts[0], tmp_path / "nope.ckpt"], out)
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(ckpts[0].read_bytes()[:1000])
    with pytest.raises(DataError, match="truncated.ckpt: not a readable checkpoint"):
        merge_checkpoints([ckpts[0], truncated], out)
    foreign = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(2)}, foreign)
    with pytest.raises(DataError, match="weights.pt: not a Lightning checkpoint"):
        merge_checkpoints([ckpts[0], foreign], out)
    other = _load(ckpts[1])
    other["hyper_parameters"]["n_outputs"] = 4
    torch.save(other, tmp_path / "other.ckpt")
    with pytest.raises(DataError, match=r"other.ckpt: another architecture.*\['n_outputs'\]"):
        merge_checkpoints([ckpts[0], tmp_path / "other.ckpt"], out)
    with pytest.raises(SystemExit) as exit_:  # the command line: one line, no traceback
        main(["checkpoints", str(ckpts[0]), str(tmp_path / "nope.ckpt"), "--out", str(out)])
    assert exit_.value.code == 2
    assert "error: " in capsys.readouterr().err
    assert not out.exists()


def test_an_interrupted_write_leaves_nothing(runs, tmp_path, monkeypatch):
    _, ckpts = runs

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", fail)
    with pytest.raises(KeyboardInterrupt):
        merge_checkpoints(ckpts, tmp_path / "soup.ckpt")
    assert list(tmp_path.iterdir()) == []


def test_checkpoints_with_other_input_preprocessing_merge_only_by_choice(runs, tmp_path,
                                                                         capsys):
    """A model standardised with other statistics (another dataset) must not be merged
    silently: the soup would predict with the first model's statistics."""
    _, ckpts = runs
    first = _load(ckpts[0])
    assert "mean" in first["hyper_parameters"]["preprocessing"]  # the HAR config standardises
    other = _load(ckpts[1])
    pre = dict(other["hyper_parameters"]["preprocessing"])
    pre["mean"] = [m + 1.0 for m in pre["mean"]]
    other["hyper_parameters"]["preprocessing"] = pre
    shifted = tmp_path / "other_data.ckpt"
    torch.save(other, shifted)
    out = tmp_path / "soup.ckpt"
    with pytest.raises(DataError, match=r"other_data.ckpt: its input preprocessing differs "
                                        r".* in \['mean'\]"):
        merge_checkpoints([ckpts[0], shifted], out)
    assert not out.exists()
    main(["checkpoints", str(ckpts[0]), str(shifted), "--out", str(out),
          "--preprocessing-from", "1"])
    soup = _load(out)
    assert soup["hyper_parameters"]["preprocessing"] == pre
    assert {k: v for k, v in soup["hyper_parameters"].items() if k != "preprocessing"} == {
        k: v for k, v in first["hyper_parameters"].items() if k != "preprocessing"}
    assert soup["eegkit_merge"]["preprocessing_from"] == 1
    with pytest.raises(ValueError, match="preprocessing_from=2 is not the index"):
        merge_checkpoints([ckpts[0], shifted], out, preprocessing_from=2)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["checkpoints", str(ckpts[0]), str(shifted), "--out", str(tmp_path / "x.ckpt")])
    assert "--preprocessing-from INDEX" in capsys.readouterr().err


def test_checkpoints_with_other_channels_are_not_merged(runs, tmp_path):
    _, ckpts = runs
    other = _load(ckpts[1])
    other["hyper_parameters"]["ch_names"] = list(reversed(other["hyper_parameters"]["ch_names"]))
    swapped = tmp_path / "swapped.ckpt"
    torch.save(other, swapped)
    with pytest.raises(DataError, match=r"swapped.ckpt: other channels or classes than .*"
                                        r"\['ch_names'\] differ"):
        merge_checkpoints([ckpts[0], swapped], tmp_path / "soup.ckpt", preprocessing_from=0)

"""ClassificationTask: model dimensions and merged classes, shared by its subclasses."""

import pytest
import torch

from eegkit.tasks.classification import ClassificationTask


def test_merged_classes_size_the_model_and_map_the_labels():
    task = ClassificationTask("eegnet", n_chans=2, n_times=128, sfreq=128.0,
                              merge_classes=[0, 0, 1, 1, 1], scheduler="none")
    assert task.n_classes == 2 and task.model_dims()["n_outputs"] == 2
    out = task.predict_step({"x": torch.randn(5, 2, 128), "y": torch.arange(5)}, 0)
    assert out["y_true"].tolist() == [0, 0, 1, 1, 1] and out["proba"].shape == (5, 2)
    loss, logits = task._step(task._targets({"x": torch.randn(5, 2, 128), "y": torch.arange(5)}))
    assert torch.isfinite(loss) and logits.shape == (5, 2)


def test_model_dims_and_bad_options():
    task = ClassificationTask("eegnet", n_chans=3, n_outputs=4, n_times=128, sfreq=128.0)
    assert task.model_dims() == {"n_chans": 3, "n_outputs": 4, "n_times": 128, "sfreq": 128.0}
    with pytest.raises(ValueError, match="3 entries for 5 classes"):
        ClassificationTask("eegnet", n_outputs=5, merge_classes=[0, 0, 1])
    with pytest.raises(ValueError, match="scheduler must be one of"):
        ClassificationTask("eegnet", scheduler="step")

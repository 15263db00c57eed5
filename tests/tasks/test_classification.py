"""ClassificationTask: model dimensions, merged classes and class weights, shared by its
subclasses."""

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from eegkit.tasks.classification import ClassificationTask, class_weights_from


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


class _LabelledWindows(L.LightningDataModule):
    """Eight 2 x 128 windows, labels 0,0,0,0,0,0,1,2 (class 2 merges into 1 when asked)."""

    n_chans, n_times, sfreq, n_outputs = 2, 128, 128.0, 3
    train_labels = np.array([0, 0, 0, 0, 0, 0, 1, 2])

    def train_dataloader(self):
        x = torch.randn(len(self.train_labels), self.n_chans, self.n_times)
        y = torch.as_tensor(self.train_labels)
        return DataLoader([{"x": a, "y": b} for a, b in zip(x, y, strict=True)],
                          batch_size=8)


def _fit_one_step(**kw) -> ClassificationTask:
    task = ClassificationTask("eegnet", scheduler="none", **kw)
    L.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False).fit(
        task, datamodule=_LabelledWindows())
    return task


def test_balanced_class_weights_come_from_the_training_labels_after_merging():
    task = _fit_one_step(class_weights="balanced")
    assert task.class_weight.tolist() == pytest.approx([8 / (3 * 6), 8 / 3, 8 / 3])
    merged = _fit_one_step(class_weights="balanced", merge_classes=[0, 1, 1])
    assert merged.class_weight.tolist() == pytest.approx([8 / (2 * 6), 8 / (2 * 2)])
    # the loss is the weighted cross-entropy (fixed logits: per-window losses that differ)
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])
    merged.forward = lambda x: logits
    y = torch.tensor([0, 1, 1, 0])
    loss, _ = merged._step({"x": torch.zeros(4, 2, 128), "y": y})
    expected = F.cross_entropy(logits, y, weight=torch.tensor([8 / 12, 2.0]))
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    assert abs(float(loss) - float(F.cross_entropy(logits, y))) > 0.1  # 1.01 vs 1.20


def test_explicit_and_bad_class_weights():
    assert _fit_one_step(class_weights=[1.0, 2.0, 3.0]).class_weight.tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="'balanced' or 3 numbers"):
        _fit_one_step(class_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"class\(es\) \[3\] have no training window"):
        _fit_one_step(class_weights="balanced", n_outputs=4)
    task = ClassificationTask("eegnet", n_chans=2, n_outputs=2, n_times=128, sfreq=128.0,
                              class_weights="balanced")
    with pytest.raises(ValueError, match="needs a datamodule with train_labels"):
        class_weights_from("balanced", task, 2, None)

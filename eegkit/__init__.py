"""eegkit: EEG deep learning on one shared data layer.

Subpackages: :mod:`eegkit.data` (readers, pipelines, cache, datamodules), :mod:`eegkit.models`
(layers and one file per method), :mod:`eegkit.tasks` (Lightning modules),
:mod:`eegkit.losses`, :mod:`eegkit.interpret`, :mod:`eegkit.predict` (a trained model applied to
new recordings; :func:`eegkit.load_model` reads its checkpoint).
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # load_model pulls in torch, Lightning and MNE: imported on first use, not with the package
    if name == "load_model":
        from eegkit.predict import load_model

        return load_model
    raise AttributeError(f"module 'eegkit' has no attribute {name!r}")

"""eegkit: EEG deep learning on one shared data layer.

Subpackages: :mod:`eegkit.data` (readers, pipelines, cache, datamodules), :mod:`eegkit.models`
(layers and one file per method), :mod:`eegkit.tasks` (Lightning modules),
:mod:`eegkit.losses`, :mod:`eegkit.interpret`.
"""

__version__ = "0.1.0"

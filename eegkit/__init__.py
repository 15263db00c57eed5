"""eegkit: EEG deep learning on one shared data layer.

The packages, from the bottom layer up (a module imports only from its own layer or below;
``tests/test_layers.py`` checks it):

- foundations: :mod:`eegkit.registry`, :mod:`eegkit.cache` (memory-mapped, atomic array
  cache), :mod:`eegkit.plugins`, :mod:`eegkit.utils`, :mod:`eegkit.metrics`;
- :mod:`eegkit.data`: types, preprocessing and splits, then ``readers`` (one per dataset),
  ``pipelines`` (sleep sequences, event windows) and ``datamodules``;
- :mod:`eegkit.demo` (the simulated corpus and its format writers), :mod:`eegkit.models`
  (layers and one file per method), :mod:`eegkit.losses`, :mod:`eegkit.diffusion`;
- :mod:`eegkit.reports` (figures and tables), :mod:`eegkit.interpret` (attention maps);
- :mod:`eegkit.tasks` (Lightning modules, EEGDM latents);
- :mod:`eegkit.inference` (a trained model on new recordings; :func:`~eegkit.inference.load_model`
  reads a checkpoint), :mod:`eegkit.merging`;
- :mod:`eegkit.cli`: the ``eegkit`` command, ``train.py`` and ``evaluate.py``.
"""

__version__ = "0.1.0"

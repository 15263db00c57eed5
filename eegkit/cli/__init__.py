"""Command-line programs, the top layer: nothing else in eegkit imports this package.

- :mod:`eegkit.cli.main`: the ``eegkit`` console script and its commands;
- :mod:`eegkit.cli.app`: the LightningCLI that parses a config into model, data and Trainer;
- :mod:`eegkit.cli.fit`, :mod:`eegkit.cli.evaluate`: ``eegkit fit|evaluate``, ``train.py``,
  ``evaluate.py``; :mod:`eegkit.cli.lodo`: the leave-one-domain-out driver and ``eegkit lodo``;
- :mod:`eegkit.cli.predict`: ``eegkit predict``; :mod:`eegkit.cli.data`: ``eegkit data``;
- :mod:`eegkit.cli.console`: one-line errors and quiet output.
"""

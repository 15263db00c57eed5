"""Model merging across domains: fine-tuned models with a shared ancestor → one model.

- :mod:`~eegkit.merging.methods`: weight averaging, task arithmetic, TIES, PCB (chunk-wise);
- :mod:`~eegkit.merging.rules`: :func:`merge` with the BatchNorm-statistics and head rules;
- :mod:`~eegkit.merging.evolver`: differential evolution over the fine-tuned population;
- :mod:`~eegkit.merging.search`: gradient-free coefficient search on source validation data;
- :mod:`~eegkit.merging.runner`: the LODO fine-tune → merge → evaluate driver
  (``python -m eegkit.merging run|table``);
- :mod:`~eegkit.merging.checkpoints`: checkpoints → one checkpoint, e.g. a model soup
  (``python -m eegkit.merging checkpoints``).
"""

from eegkit.merging.checkpoints import merge_checkpoints
from eegkit.merging.evolver import EvolverResult, evolve
from eegkit.merging.methods import METHODS, pcb, task_arithmetic, ties, weight_average
from eegkit.merging.rules import merge, recompute_norm_stats
from eegkit.merging.search import search_coefficients, validation_scorer

__all__ = ["METHODS", "EvolverResult", "evolve", "merge", "merge_checkpoints", "pcb",
           "recompute_norm_stats", "search_coefficients", "task_arithmetic", "ties",
           "validation_scorer", "weight_average"]

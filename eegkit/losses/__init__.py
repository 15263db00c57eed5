"""Training objectives beyond plain cross-entropy."""

from eegkit.losses.alignment import (
    domain_alignment,
    mean_cov_alignment,
    sequence_correlation,
)
from eegkit.losses.sleepdifformer import SleepDIFFormerLoss

__all__ = ["SleepDIFFormerLoss", "domain_alignment", "mean_cov_alignment",
           "sequence_correlation"]

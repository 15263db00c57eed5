"""Denoising diffusion (DDPM) for 1-D signals: schedules, v-prediction, EMA, sampler, µ-law."""

from eegkit.diffusion.ddpm import EMA, GaussianDiffusion, beta_schedule
from eegkit.diffusion.mulaw import mu_law_decode, mu_law_encode

__all__ = ["EMA", "GaussianDiffusion", "beta_schedule", "mu_law_decode", "mu_law_encode"]

"""Tests of EEGDM: S4D, SSMDP, LFT, diffusion, latents, tasks."""

"""DDPM (Ho et al., 2020) with a discrete schedule, ε / x0 / v parameterisations and EMA.

Notation: ``ᾱ_t = prod_{s<=t} (1 - β_s)``, ``a_t = sqrt(ᾱ_t)``, ``s_t = sqrt(1 - ᾱ_t)``
(``a_t² + s_t² = 1``). The forward process is ``x_t = a_t x0 + s_t ε``; the velocity
``v = a_t ε - s_t x0`` (Salimans & Ho, 2022). Conversions between the three targets are exact
given ``x_t``::

    x0 = a_t x_t - s_t v        ε = s_t x_t + a_t v

Steps are indexed ``0 .. n_steps - 1``; step 0 is the least noisy.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

SCHEDULES = ("squaredcos_cap_v2", "linear")
PREDICTIONS = ("v", "epsilon", "sample")


def beta_schedule(n_steps: int, kind: str = "squaredcos_cap_v2", beta_start: float = 1e-4,
                  beta_end: float = 0.02, max_beta: float = 0.999) -> torch.Tensor:
    """β_0 .. β_{n-1} (float64).

    ``"squaredcos_cap_v2"`` is the cosine schedule of Nichol & Dhariwal (2021):
    ``β_i = min(1 - f((i+1)/n) / f(i/n), max_beta)`` with ``f(u) = cos²((u + 0.008)/1.008 · π/2)``.
    ``"linear"`` spaces β evenly from ``beta_start`` to ``beta_end``.
    """
    if kind == "linear":
        return torch.linspace(beta_start, beta_end, n_steps, dtype=torch.float64)
    if kind != "squaredcos_cap_v2":
        raise ValueError(f"unknown schedule {kind!r}; choose from {SCHEDULES}")
    u = torch.arange(n_steps + 1, dtype=torch.float64) / n_steps
    f = torch.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2
    return torch.clamp(1 - f[1:] / f[:-1], max=max_beta)


class GaussianDiffusion(nn.Module):
    """Discrete-time Gaussian diffusion: noising, targets, loss and ancestral sampling.

    Parameters
    ----------
    n_steps : int
        Number of diffusion steps ``T``.
    schedule : {"squaredcos_cap_v2", "linear"}
    prediction : {"v", "epsilon", "sample"}
        What the network predicts.

    The network is called as ``model(x_t, t, **cond)`` with ``t`` a long tensor ``(B,)``.
    """

    def __init__(self, n_steps: int = 50, schedule: str = "squaredcos_cap_v2",
                 prediction: str = "v"):
        super().__init__()
        if prediction not in PREDICTIONS:
            raise ValueError(f"unknown prediction {prediction!r}; choose from {PREDICTIONS}")
        self.n_steps, self.prediction = n_steps, prediction
        betas = beta_schedule(n_steps, schedule)
        alphas_cumprod = torch.cumprod(1 - betas, dim=0)
        prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
        buffers = {
            "betas": betas,
            "alphas_cumprod": alphas_cumprod,
            "sqrt_alphas_cumprod": alphas_cumprod.sqrt(),
            "sqrt_one_minus_alphas_cumprod": (1 - alphas_cumprod).sqrt(),
            # posterior q(x_{t-1} | x_t, x0) = N(c0 x0 + ct x_t, var)
            "posterior_coef_x0": betas * prev.sqrt() / (1 - alphas_cumprod),
            "posterior_coef_xt": (1 - prev) * (1 - betas).sqrt() / (1 - alphas_cumprod),
            "posterior_variance": betas * (1 - prev) / (1 - alphas_cumprod),
        }
        for name, value in buffers.items():
            self.register_buffer(name, value.float(), persistent=False)

    def _coef(self, name: str, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Schedule value at steps ``t``, broadcastable against ``like`` (B, ...)."""
        value = getattr(self, name)[t].to(like.dtype)
        return value.view(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``x_t = a_t x0 + s_t ε``."""
        return (self._coef("sqrt_alphas_cumprod", t, x0) * x0
                + self._coef("sqrt_one_minus_alphas_cumprod", t, x0) * noise)

    def velocity(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``v = a_t ε - s_t x0``."""
        return (self._coef("sqrt_alphas_cumprod", t, x0) * noise
                - self._coef("sqrt_one_minus_alphas_cumprod", t, x0) * x0)

    def x0_from_v(self, xt: torch.Tensor, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (self._coef("sqrt_alphas_cumprod", t, xt) * xt
                - self._coef("sqrt_one_minus_alphas_cumprod", t, xt) * v)

    def eps_from_v(self, xt: torch.Tensor, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (self._coef("sqrt_one_minus_alphas_cumprod", t, xt) * xt
                + self._coef("sqrt_alphas_cumprod", t, xt) * v)

    def x0_from_eps(self, xt: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return ((xt - self._coef("sqrt_one_minus_alphas_cumprod", t, xt) * eps)
                / self._coef("sqrt_alphas_cumprod", t, xt))

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The regression target of :attr:`prediction`."""
        if self.prediction == "v":
            return self.velocity(x0, noise, t)
        return noise if self.prediction == "epsilon" else x0

    def predict_x0(self, xt: torch.Tensor, output: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x0`` implied by the network output at ``x_t``."""
        if self.prediction == "v":
            return self.x0_from_v(xt, output, t)
        return self.x0_from_eps(xt, output, t) if self.prediction == "epsilon" else output

    def loss(self, model: Callable[..., torch.Tensor], x0: torch.Tensor,
             t: torch.Tensor | None = None, noise: torch.Tensor | None = None,
             **cond) -> torch.Tensor:
        """MSE between the network output and the target at random steps ``t ~ U{0..T-1}``."""
        if t is None:
            t = torch.randint(0, self.n_steps, (x0.shape[0],), device=x0.device)
        if noise is None:
            noise = torch.randn_like(x0)
        output = model(self.q_sample(x0, t, noise), t, **cond)
        return F.mse_loss(output, self.target(x0, noise, t))

    @torch.no_grad()
    def sample(self, model: Callable[..., torch.Tensor], shape: tuple[int, ...],
               generator: torch.Generator | None = None, clip: float | None = None,
               device: torch.device | str | None = None, **cond) -> torch.Tensor:
        """Ancestral sampling from ``x_T ~ N(0, I)`` through all ``T`` steps.

        ``clip`` bounds the predicted ``x0`` at every step (None: no clipping).
        """
        device = device or self.betas.device
        x = torch.randn(shape, generator=generator, device=device)
        for step in reversed(range(self.n_steps)):
            t = torch.full((shape[0],), step, dtype=torch.long, device=device)
            x0 = self.predict_x0(x, model(x, t, **cond), t)
            if clip is not None:
                x0 = x0.clamp(-clip, clip)
            mean = self._coef("posterior_coef_x0", t, x) * x0 + self._coef(
                "posterior_coef_xt", t, x) * x
            if step == 0:
                return mean
            noise = torch.randn(shape, generator=generator, device=device)
            x = mean + self._coef("posterior_variance", t, x).sqrt() * noise
        return x


class EMA(nn.Module):
    """Exponential moving average of a model's weights, kept as a frozen copy (:attr:`model`).

    Call :meth:`update` after every optimiser step with the number of steps done. Until
    ``start_step`` the copy tracks the weights exactly; afterwards, every ``every`` steps,
    ``ema = decay * ema + (1 - decay) * weights``. Buffers are copied as they are.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, start_step: int = 100,
                 every: int = 10):
        super().__init__()
        self.decay, self.start_step, self.every = decay, start_step, every
        self.model = copy.deepcopy(model).requires_grad_(False).eval()

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        if step > self.start_step and step % self.every:
            return
        weight = 1.0 if step <= self.start_step else 1.0 - self.decay
        for ema_p, p in zip(self.model.parameters(), model.parameters(), strict=True):
            ema_p.lerp_(p.detach(), weight)
        for ema_b, b in zip(self.model.buffers(), model.buffers(), strict=True):
            ema_b.copy_(b)

    def forward(self, *args, **kwargs):
        return self.model(*args, **kwargs)

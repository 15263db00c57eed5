"""S4D: a diagonal structured state-space layer, applied as a long convolution.

Each of the ``d_model`` channels is an independent linear time-invariant system with a diagonal
complex state of ``d_state / 2`` modes (the other half are their complex conjugates, so the
output is real)::

    x'(t) = A x(t) + B u(t),    y(t) = 2 Re(C x(t)) + D u(t)

discretised with step ``dt`` (zero-order hold). Its impulse response is the Vandermonde kernel

    K_l = 2 Re( sum_n C_n B_n (exp(dt A_n) - 1) / A_n * exp(dt A_n l) ),

and the layer output is the causal convolution ``y = K * u + D u``, done by FFT with both
sequences zero-padded to ``2 L`` (no circular wrap-around). Initialisation is S4D-Lin
("diag-lin"): ``A_n = -1/2 + i pi n``, ``B`` initialised to 1, ``C`` complex standard normal,
``log dt`` uniform in ``[log dt_min, log dt_max]``. ``A``, ``B``, ``C``, ``dt`` and ``D`` are all
learned (with a learned ``B``, the SSMDP backbone has the paper's ~5.9M parameters).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn


class S4D(nn.Module):
    """Diagonal state-space convolution over time, channels first: ``(B, H, L) → (B, H, L)``.

    Parameters
    ----------
    d_model : int
        Number of channels ``H``; each has its own system (``A``, ``C``, ``dt``, ``D``).
    d_state : int
        State size ``N`` per channel: ``N / 2`` complex modes and their conjugates.
    bidirectional : bool
        Add a second kernel (own ``C``; ``A``, ``B`` and ``dt`` shared) run over the
        time-reversed signal, so every output sees the past and the future.
    dt_min, dt_max : float
        Range of the initial step sizes (log-uniform), in units of one sample.

    Notes
    -----
    ``rate`` in :meth:`forward` multiplies ``dt``: a layer trained on signals sampled at
    ``f_train`` applies to a signal sampled at ``f`` with ``rate = f_train / f`` (a sample
    then spans ``rate`` training samples of time), without retraining.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 128,
        bidirectional: bool = True,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
    ):
        super().__init__()
        if d_state % 2:
            raise ValueError(f"d_state must be even (conjugate pairs), got {d_state}")
        self.d_model = d_model
        self.d_state = d_state
        self.bidirectional = bidirectional
        n_modes = d_state // 2
        n_dir = 2 if bidirectional else 1
        log_dt = torch.rand(d_model) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)
        # A = -exp(log_a_real) + i a_imag keeps the real part negative (a stable system).
        self.log_a_real = nn.Parameter(torch.full((d_model, n_modes), math.log(0.5)))
        self.a_imag = nn.Parameter(math.pi * torch.arange(n_modes).float().repeat(d_model, 1))
        self.b = nn.Parameter(torch.view_as_real(torch.ones(d_model, n_modes, dtype=torch.cfloat)))
        # C stored as real pairs; complex standard normal has variance 1/2 per part.
        c = torch.randn(n_dir, d_model, n_modes, dtype=torch.cfloat)
        self.c = nn.Parameter(torch.view_as_real(c))
        self.d = nn.Parameter(torch.randn(d_model))

    def discretized(self, rate: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(dtA, B̄, C)``: the per-step transition exponent, input map and output map.

        The discrete system is ``x_k = exp(dtA) x_{k-1} + B̄ u_k``, ``y_k = 2 Re(C x_k)``.
        Shapes ``(H, N/2)``, ``(H, N/2)`` and ``(n_dir, H, N/2)``.
        """
        dt = torch.exp(self.log_dt) * rate
        a = torch.complex(-torch.exp(self.log_a_real), self.a_imag)
        dta = a * dt[:, None]
        b_bar = (torch.exp(dta) - 1.0) / a * torch.view_as_complex(self.b)
        return dta, b_bar, torch.view_as_complex(self.c)

    def kernel(self, length: int, rate: float = 1.0) -> torch.Tensor:
        """The convolution kernels ``(n_dir, H, length)`` (forward first)."""
        dta, b_bar, c = self.discretized(rate)
        # Vandermonde product sum_n w_n z_n^l without the (H, N/2, L) matrix: write
        # l = a * inner + b, so z^l = z^b * (z^inner)^a and the sum over n is a batched
        # matrix product of two (H, N/2, ~sqrt L) factors.
        inner = math.isqrt(max(length - 1, 0)) + 1
        outer = -(-length // inner)
        dtype = dta.real.dtype
        low = torch.exp(dta[..., None] * torch.arange(inner, device=dta.device, dtype=dtype))
        high = torch.exp(dta[..., None] * torch.arange(0, outer * inner, inner,
                                                       device=dta.device, dtype=dtype))
        k = torch.einsum("khnb,hna->khab", (c * b_bar)[..., None] * low, high)
        return 2.0 * k.real.flatten(-2)[..., :length]

    def forward(self, u: torch.Tensor, rate: float = 1.0) -> torch.Tensor:
        length = u.shape[-1]
        k = self.kernel(length, rate)
        # One length-2L kernel: the causal kernel at lags 0..L-1 and the backward kernel at
        # lags 0..-(L-1), i.e. K_b[s] at index (2L - s) mod 2L. Convolving with it equals
        # the forward pass plus the reversed pass over the reversed signal.
        full = nn.functional.pad(k[0], (0, length))
        if self.bidirectional:
            backward = nn.functional.pad(k[1].flip(-1), (length, 0))
            full = full + torch.roll(backward, 1, dims=-1)
        n = 2 * length
        y = torch.fft.irfft(torch.fft.rfft(u, n) * torch.fft.rfft(full, n), n)[..., :length]
        return y + self.d[:, None] * u

"""S4D: the FFT convolution is the discretised state-space recurrence."""

from __future__ import annotations

import math

import pytest
import torch

from eegkit.models.layers.s4d import S4D


def _recurrence(layer: S4D, u: torch.Tensor, direction: int, rate: float) -> torch.Tensor:
    """Run x_k = exp(dtA) x_{k-1} + B̄ u_k, y_k = 2 Re(C x_k) step by step (complex128)."""
    dta, b_bar, c = (v.detach().to(torch.complex128) for v in layer.discretized(rate))
    a_bar, c = torch.exp(dta), c[direction]
    state = torch.zeros(u.shape[0], *dta.shape, dtype=torch.complex128)
    out = []
    for k in range(u.shape[-1]):
        state = a_bar * state + b_bar * u[:, :, k, None]
        out.append(2 * (c * state).sum(-1).real)
    return torch.stack(out, dim=-1)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("rate", [1.0, 0.5])
@pytest.mark.parametrize("length", [1, 7, 50])  # the kernel factorises l = a * inner + b
def test_fft_convolution_equals_recurrence(bidirectional, rate, length):
    torch.manual_seed(0)
    layer = S4D(d_model=3, d_state=8, bidirectional=bidirectional, dt_min=1e-2, dt_max=0.5)
    u = torch.randn(2, 3, length, dtype=torch.float64)
    expected = _recurrence(layer, u, 0, rate)
    if bidirectional:  # the second kernel runs over the reversed signal
        expected = expected + _recurrence(layer, u.flip(-1), 1, rate).flip(-1)
    expected = expected + layer.d.detach().double()[:, None] * u
    with torch.no_grad():
        got = layer(u.float(), rate=rate).double()
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_diag_lin_initialisation():
    layer = S4D(d_model=4, d_state=128)
    dta, _, c = layer.discretized()
    dt = torch.exp(layer.log_dt)
    assert c.shape == (2, 4, 64)  # 64 conjugate pairs, one C per direction
    assert ((dt >= 1e-3) & (dt <= 1e-1)).all()
    a = dta / dt[:, None]
    torch.testing.assert_close(a.real, torch.full((4, 64), -0.5))
    torch.testing.assert_close(a.imag, math.pi * torch.arange(64.0).expand(4, 64))
    # B starts at 1 and is learned (one complex value per channel and mode)
    b = torch.view_as_complex(layer.b)
    assert layer.b.requires_grad and b.shape == (4, 64)
    torch.testing.assert_close(b, torch.ones(4, 64, dtype=torch.cfloat))


def test_rate_scales_the_step_size():
    torch.manual_seed(1)
    layer = S4D(d_model=2, d_state=4)
    k_rate = layer.kernel(16, rate=2.0)
    with torch.no_grad():
        layer.log_dt += math.log(2.0)
    torch.testing.assert_close(k_rate, layer.kernel(16))


def test_forward_backward_is_causal_only_when_unidirectional():
    torch.manual_seed(2)
    u = torch.zeros(1, 2, 20)
    u[..., 10] = 1.0  # an impulse at sample 10
    causal = S4D(2, 4, bidirectional=False)(u)
    both = S4D(2, 4, bidirectional=True)(u)
    assert causal[..., :10].abs().max() < 1e-6
    assert both[..., :10].abs().max() > 1e-3

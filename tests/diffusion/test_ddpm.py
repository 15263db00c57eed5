"""DDPM schedule, parameterisations, loss, EMA, sampler and the staged µ-law."""

from __future__ import annotations

import math

import pytest
import torch

from eegkit.diffusion import EMA, GaussianDiffusion, beta_schedule, mu_law_decode, mu_law_encode
from eegkit.models.eegdm_ssmdp import SSMDP


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models train far faster on one thread than on two contended ones."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_cosine_schedule_matches_closed_form():
    n = 50
    f = [math.cos((i / n + 0.008) / 1.008 * math.pi / 2) ** 2 for i in range(n + 1)]
    expected = torch.tensor([min(1 - f[i + 1] / f[i], 0.999) for i in range(n)],
                            dtype=torch.float64)
    betas = beta_schedule(n)
    torch.testing.assert_close(betas, expected, rtol=0, atol=1e-12)
    assert betas[-1] == 0.999  # the cap binds at the last step
    diffusion = GaussianDiffusion(n)
    alpha_bar = torch.cumprod(1 - expected, 0)
    torch.testing.assert_close(diffusion.alphas_cumprod.double(), alpha_bar, rtol=1e-6, atol=0)
    # ᾱ_t follows f(t+1)/f(0) until the cap
    assert diffusion.alphas_cumprod[0].item() == pytest.approx(f[1] / f[0], rel=1e-6)
    assert diffusion.alphas_cumprod[24].item() == pytest.approx(f[25] / f[0], rel=1e-6)


def test_linear_schedule_and_bad_names():
    torch.testing.assert_close(beta_schedule(3, "linear"),
                               torch.tensor([1e-4, 0.01005, 0.02], dtype=torch.float64))
    with pytest.raises(ValueError, match="unknown schedule"):
        beta_schedule(3, "quadratic")
    with pytest.raises(ValueError, match="unknown prediction"):
        GaussianDiffusion(3, prediction="score")


def test_conversions_between_eps_x0_and_v_invert():
    torch.manual_seed(0)
    d = GaussianDiffusion(50)
    x0, eps = torch.randn(50, 1, 16, dtype=torch.float64), torch.randn(50, 1, 16,
                                                                        dtype=torch.float64)
    t = torch.arange(50)
    xt = d.q_sample(x0, t, eps)
    v = d.velocity(x0, eps, t)
    torch.testing.assert_close(d.x0_from_v(xt, v, t), x0)
    torch.testing.assert_close(d.eps_from_v(xt, v, t), eps)
    torch.testing.assert_close(d.x0_from_eps(xt[:-1], eps[:-1], t[:-1]), x0[:-1])
    torch.testing.assert_close(d.predict_x0(xt, v, t), x0)
    assert torch.equal(d.target(x0, eps, t), v)


def test_staged_mu_law_round_trip():
    x = torch.linspace(-50, 50, 2001, dtype=torch.float64)
    u = mu_law_encode(x)
    small = x.abs() <= 1
    assert torch.equal(u[small], x[small])  # |x| <= 1 passes unchanged
    assert u.abs().max() < 2.0 and (u.diff() > 0).all()  # compressed, still increasing
    assert mu_law_encode(torch.tensor(1.0 + 1e-9)).item() == pytest.approx(1.0)  # continuous
    big = mu_law_encode(torch.tensor([3.0]))
    assert big.item() == pytest.approx(math.log(1 + 255 * 3) / math.log(256))
    torch.testing.assert_close(mu_law_decode(u), x)


def test_ema_tracks_then_averages():
    model = torch.nn.Linear(1, 1, bias=False)
    ema = EMA(model, decay=0.9, start_step=2, every=2)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model, step=1)
    assert ema.model.weight.item() == 1.0  # before start_step: exact copy
    with torch.no_grad():
        model.weight.fill_(2.0)
    ema.update(model, step=3)  # not a multiple of `every`: skipped
    assert ema.model.weight.item() == 1.0
    ema.update(model, step=4)
    assert ema.model.weight.item() == pytest.approx(0.9 * 1.0 + 0.1 * 2.0)
    assert not any(p.requires_grad for p in ema.parameters())


def _tiny_backbone():
    return SSMDP(n_channels=1, width=16, n_blocks=2, d_state=8, cond_dim=32)


def test_loss_goes_down_on_a_tiny_dataset():
    torch.manual_seed(0)
    data = torch.randn(8, 1, 32).cumsum(-1) / 4  # eight fixed random walks
    model, d = _tiny_backbone(), GaussianDiffusion(50)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    ch = torch.zeros(8, dtype=torch.long)
    g = torch.Generator().manual_seed(1)

    def eval_loss():  # fixed steps and noise, so the comparison is not luck
        t = torch.randint(0, 50, (64,), generator=g.manual_seed(1))
        noise = torch.randn(64, 1, 32, generator=g)
        with torch.no_grad():
            return d.loss(model, data.repeat(8, 1, 1), t=t, noise=noise,
                          channel=ch.repeat(8)).item()

    before = eval_loss()
    for _ in range(60):
        loss = d.loss(model, data, channel=ch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert eval_loss() < 0.8 * before


def test_trained_backbone_samples_the_training_spectrum():
    """Train on sinusoids of one frequency (random phase); samples must share the spectrum."""
    torch.manual_seed(0)
    length, k = 32, 4  # 4 cycles per window

    def sinusoids(n):
        phase = torch.rand(n, 1, 1) * 2 * math.pi
        return torch.sin(2 * math.pi * k * torch.arange(length) / length + phase)

    def power_near_k(x):
        p = torch.fft.rfft(x.squeeze(1)).abs() ** 2
        return (p[:, k - 1:k + 2].sum(-1) / p.sum(-1)).mean().item()

    model, d = _tiny_backbone(), GaussianDiffusion(50)
    ch = torch.zeros(32, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    untrained = d.sample(model, (16, 1, length), generator=gen, channel=ch[:16])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = d.loss(model, sinusoids(32), channel=ch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    samples = d.sample(model, (16, 1, length), generator=gen.manual_seed(0), channel=ch[:16])
    assert power_near_k(untrained) < 0.3  # white-ish noise: ~3/17 of the power
    assert power_near_k(samples) > 0.8
    assert 0.4 < samples.std().item() < 1.0  # a unit sinusoid has std 0.71

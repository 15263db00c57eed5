"""SleepDIFFormer objective on hand-built inputs with values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from eegkit.losses import (
    SleepDIFFormerLoss,
    domain_alignment,
    mean_cov_alignment,
    sequence_correlation,
)

UP = [1.0, 2.0, 3.0, 4.0]
DOWN = [4.0, 3.0, 2.0, 1.0]


def test_mean_cov_alignment_by_hand():
    # constant features: means 1 and 3 in every dimension, both covariances 0
    l_mean, l_cov = mean_cov_alignment(torch.ones(5, 3), torch.full((4, 3), 3.0))
    assert l_mean.item() == pytest.approx(4.0)
    assert l_cov.item() == pytest.approx(0.0)
    # a = {(0,0), (2,2)}: mean (1,1), unbiased covariance [[2,2],[2,2]]; b constant at (1,1)
    a = torch.tensor([[0.0, 0.0], [2.0, 2.0]])
    l_mean, l_cov = mean_cov_alignment(a, torch.ones(3, 2))
    assert l_mean.item() == pytest.approx(0.0)
    assert l_cov.item() == pytest.approx(4.0)  # mean of four entries (2 - 0)^2
    with pytest.raises(ValueError, match="2 samples"):
        mean_cov_alignment(torch.ones(1, 2), torch.ones(3, 2))


def test_sequence_correlation_by_hand():
    anti = torch.tensor([[UP, DOWN]])  # (B=1, E=2, D=4): correlation -1 between the epochs
    same = torch.tensor([[UP, [2 * u + 5 for u in UP]]])  # +1
    torch.testing.assert_close(sequence_correlation(anti), torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))
    # the batch average of +1 and -1 is 0 off the diagonal
    torch.testing.assert_close(sequence_correlation(torch.cat([anti, same])), torch.eye(2))
    # a constant epoch correlates 0 with everything (no NaN)
    flat = torch.tensor([[UP, [7.0] * 4]])
    torch.testing.assert_close(sequence_correlation(flat), torch.tensor([[1.0, 0.0], [0.0, 0.0]]))


def _three_domains():
    # Domain 0: anti-correlated epochs, features around 2.5; domain 1: correlated epochs, same
    # mean and covariance; domain 2: constant 0 features (correlation matrix 0).
    anti = torch.tensor([UP, DOWN])
    same = torch.tensor([UP, UP])
    mu = torch.stack([anti, anti, same, same, torch.zeros(2, 4)])
    domain = torch.tensor([0, 0, 1, 1, 2])
    return mu, domain


def test_domain_alignment_by_hand():
    mu, domain = _three_domains()
    # single domain (and a single pair) first
    parts = domain_alignment(mu[:2], domain[:2])
    assert all(v.item() == 0 for v in parts.values())
    parts = domain_alignment(mu[:4], domain[:4])
    # C0 = [[1,-1],[-1,1]], C1 = ones: two off-diagonal entries differ by 2 -> 8
    assert parts["seq"].item() == pytest.approx(8.0)
    # domain 0 rows {UP, DOWN} x2, domain 1 rows {UP} x4: means (2.5,...) vs (1,2,3,4)
    assert parts["mean"].item() == pytest.approx((1.5**2 + 0.5**2 + 0.5**2 + 1.5**2) / 4)
    a, b = mu[:2].flatten(0, 1), mu[2:4].flatten(0, 1)
    assert parts["cov"].item() == pytest.approx((torch.cov(a.T) - torch.cov(b.T)).pow(2).mean())
    # three domains: pairs (0,1), (0,2), (1,2); C2 = 0, so seq = (8 + 4 + 4) / 3
    parts = domain_alignment(mu, domain)
    assert parts["seq"].item() == pytest.approx(16.0 / 3)
    # means: domain 2 is 0 -> (0,2) gives 2.5^2 = 6.25, (1,2) gives mean(1,4,9,16) = 7.5
    assert parts["mean"].item() == pytest.approx(1.25 + 6.25 + 7.5)


def test_sleepdifformer_loss_by_hand():
    mu, domain = _three_domains()
    b, e = mu.shape[:2]
    x = torch.ones(b, e, 2, 10)
    out = {"logits": torch.zeros(b, e, 5), "mu": mu, "recon": torch.zeros(b, e, 2, 10)}
    y = torch.randint(0, 5, (b, e))
    total, parts = SleepDIFFormerLoss()(out, y, domain, x)
    # uniform logits: CE = log 5 whatever the label smoothing; MSE(0, 1) = 1
    assert parts["ce"].item() == pytest.approx(math.log(5))
    assert parts["rec"].item() == pytest.approx(1.0)
    align = parts["mean"] + parts["cov"] + parts["seq"]
    assert total.item() == pytest.approx(math.log(5) + 0.5 * align.item() + 0.5)
    total, ablated = SleepDIFFormerLoss(w_align=0.0, w_rec=0.0)(out, y, domain, x)
    assert total.item() == pytest.approx(math.log(5))
    # still reported, only not weighted
    assert {k: v.item() for k, v in ablated.items()} == {k: v.item() for k, v in parts.items()}
    total, _ = SleepDIFFormerLoss(w_align=2.0, w_rec=0.0)(out, y, None, x)
    assert total.item() == pytest.approx(math.log(5))  # no domain ids: no alignment


def test_label_smoothing_and_unscored_epochs():
    a = 3.0
    logits = torch.tensor([[[a, 0.0, 0.0, 0.0, 0.0], [0.0] * 5]])
    y = torch.tensor([[0, -1]])  # the second epoch is unscored and ignored
    out = {"logits": logits, "mu": torch.zeros(1, 2, 4), "recon": torch.zeros(1, 2, 2, 3)}
    log_p0 = a - math.log(math.exp(a) + 4)
    log_p_other = -math.log(math.exp(a) + 4)
    # target 0.9 on class 0 plus 0.1 / 5 on every class
    expected = -(0.92 * log_p0 + 4 * 0.02 * log_p_other)
    total, parts = SleepDIFFormerLoss(w_rec=0.0)(out, y, torch.tensor([0]), torch.zeros(1, 2, 2, 3))
    assert parts["ce"].item() == pytest.approx(expected)
    assert total.item() == pytest.approx(expected)


@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.0, 0.0)])
def test_loss_backpropagates_into_the_model(weights):
    from eegkit.models import create_model

    torch.manual_seed(0)
    model = create_model("sleepdifformer", n_times=300, d_model=16, n_heads=2, n_layers=1,
                         seq_heads=2, seq_mlp_dim=32)
    x = torch.randn(4, 3, 2, 300)
    domain = torch.tensor([0, 0, 1, 1]) if weights[0] else torch.zeros(4, dtype=torch.long)
    loss = SleepDIFFormerLoss(w_align=weights[0], w_rec=weights[1])
    total, parts = loss(model.forward_train(x), torch.randint(0, 5, (4, 3)), domain, x)
    total.backward()
    assert set(parts) == {"ce", "mean", "cov", "seq", "rec"}
    assert all(torch.isfinite(v) and not v.requires_grad for v in parts.values())
    # every parameter is in the graph (what DDP needs), even for the ablation on one domain
    assert all(p.grad is not None for p in model.parameters())
    decoder_grad = model.decoder.layers[0].weight.grad.abs().sum()
    assert (decoder_grad > 0) if weights[1] else (decoder_grad == 0)

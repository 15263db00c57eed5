"""Domain-alignment losses on epoch features (SleepDIFFormer, after SleepDG).

- epoch level: match the first and second moments of the features of two domains;
- sequence level: match the average epoch-by-epoch correlation structure of their sequences.
"""

from __future__ import annotations

from itertools import combinations

import torch


def mean_cov_alignment(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared differences of the feature means and covariances of two domains.

    Parameters
    ----------
    a, b : torch.Tensor
        Features ``(N_a, D)`` and ``(N_b, D)``, each with at least two rows.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        ``mean_j (mean(a)_j - mean(b)_j)^2`` and ``mean_{j,k} (cov(a) - cov(b))_{jk}^2``
        (covariances with the unbiased ``N - 1`` normalisation).
    """
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError(f"need >= 2 samples per domain for a covariance, got {a.shape[0]} "
                         f"and {b.shape[0]}")
    l_mean = (a.mean(0) - b.mean(0)).pow(2).mean()
    l_cov = (torch.cov(a.T) - torch.cov(b.T)).pow(2).mean()
    return l_mean, l_cov


def sequence_correlation(mu: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Batch-average Pearson correlation between the epochs of a sequence.

    Parameters
    ----------
    mu : torch.Tensor
        ``(B, E, D)`` epoch features; epochs are correlated across the ``D`` dimensions.
    eps : float
        Added to the norms: an epoch with constant features correlates 0 with every epoch.

    Returns
    -------
    torch.Tensor
        ``(E, E)``, the mean over the ``B`` sequences.
    """
    centred = mu - mu.mean(dim=-1, keepdim=True)
    unit = centred / (centred.norm(dim=-1, keepdim=True) + eps)
    return (unit @ unit.transpose(1, 2)).mean(0)


def domain_alignment(mu: torch.Tensor, domain: torch.Tensor) -> dict[str, torch.Tensor]:
    """Alignment terms over every pair of domains present in the batch.

    Parameters
    ----------
    mu : torch.Tensor
        ``(B, E, D)`` epoch features.
    domain : torch.Tensor
        ``(B,)`` domain id of each sequence.

    Returns
    -------
    dict
        ``mean`` and ``cov`` (:func:`mean_cov_alignment` on the flattened ``(N, D)`` features,
        summed over pairs) and ``seq`` (squared differences of the domains'
        :func:`sequence_correlation` matrices, summed over entries, averaged over pairs);
        all 0 when fewer than two domains are present.
    """
    zero = mu.new_zeros(())
    parts = {"mean": zero, "cov": zero, "seq": zero}
    ids = torch.unique(domain).tolist()
    pairs = list(combinations(ids, 2))
    if not pairs:
        return parts
    groups = {i: mu[domain == i] for i in ids}
    flat = {i: g.flatten(0, 1) for i, g in groups.items()}
    corr = {i: sequence_correlation(g) for i, g in groups.items()}
    for i, j in pairs:
        l_mean, l_cov = mean_cov_alignment(flat[i], flat[j])
        parts["mean"] = parts["mean"] + l_mean
        parts["cov"] = parts["cov"] + l_cov
        parts["seq"] = parts["seq"] + (corr[i] - corr[j]).pow(2).sum() / len(pairs)
    return parts

"""Domain-balanced batch samplers, single process and distributed."""

from __future__ import annotations

import numpy as np
import pytest

from eegkit.data.samplers import DistributedDomainBalancedSampler, DomainBalancedBatchSampler
from eegkit.data.types import DataError

# three domains of very different sizes
DOMAINS = np.repeat([0, 1, 2], [50, 7, 20])


def test_every_batch_is_balanced_over_domains():
    sampler = DomainBalancedBatchSampler(DOMAINS, batch_size=8, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == len(DOMAINS) // 8
    totals = np.zeros(3, int)
    for batch in batches:
        assert len(batch) == 8 and len(set(batch)) == 8  # no repeat inside a batch
        counts = np.bincount(DOMAINS[batch], minlength=3)
        assert counts.min() >= 2 and counts.max() - counts.min() <= 1  # 3 + 3 + 2
        totals += counts
    assert totals.max() - totals.min() <= 1  # the extra slot rotates over domains
    # the small domain is cycled through completely before any item repeats
    seen = [i for b in batches for i in b if DOMAINS[i] == 1]
    assert sorted(seen[:7]) == list(range(50, 57))


def test_seeded_epochs_and_configurable_length():
    a = DomainBalancedBatchSampler(DOMAINS, batch_size=4, num_batches=5, seed=3)
    b = DomainBalancedBatchSampler(DOMAINS, batch_size=4, num_batches=5, seed=3)
    assert len(a) == 5 and list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    c = DomainBalancedBatchSampler(DOMAINS, batch_size=4, num_batches=5, seed=4)
    assert list(c) != first


def test_more_domains_than_batch_slots_still_mixes_domains():
    domains = np.repeat(np.arange(6), 5)
    for batch in DomainBalancedBatchSampler(domains, batch_size=3, num_batches=20, seed=0):
        assert len(set(domains[batch])) == 3


def test_single_domain_and_empty_input():
    batches = list(DomainBalancedBatchSampler(np.zeros(10, int), batch_size=4))
    assert len(batches) == 2 and all(len(b) == 4 for b in batches)
    with pytest.raises(DataError, match="empty"):
        DomainBalancedBatchSampler(np.zeros(0, int), batch_size=4)


@pytest.mark.parametrize("world", [2, 3])
def test_distributed_ranks_are_disjoint_and_equally_long(world):
    samplers = [DistributedDomainBalancedSampler(DOMAINS, batch_size=6, seed=1,
                                                 num_replicas=world, rank=r)
                for r in range(world)]
    for epoch in (0, 1):
        per_rank = []
        for s in samplers:
            s.set_epoch(epoch)
            batches = list(s)
            per_rank.append(batches)
            for batch in batches:
                assert len(set(DOMAINS[batch])) >= 2
                counts = np.bincount(DOMAINS[batch], minlength=3)
                assert counts.max() - counts.min() <= 1
        assert len({len(b) for b in per_rank}) == 1 and len(per_rank[0]) >= 1
        used = [{i for b in batches for i in b} for batches in per_rank]
        for r in range(world):
            for q in range(r + 1, world):
                assert not used[r] & used[q]
    # a new epoch gives every rank a new share
    samplers[0].set_epoch(0)
    e0 = {i for b in samplers[0] for i in b}
    samplers[0].set_epoch(1)
    assert {i for b in samplers[0] for i in b} != e0


def test_distributed_needs_enough_items_and_a_valid_rank():
    with pytest.raises(DataError, match="fewer items than 8 ranks"):
        DistributedDomainBalancedSampler(DOMAINS, 4, num_replicas=8, rank=0)
    with pytest.raises(ValueError, match="rank 2 out of range"):
        DistributedDomainBalancedSampler(DOMAINS, 4, num_replicas=2, rank=2)
    with pytest.raises(RuntimeError, match="torch.distributed"):
        DistributedDomainBalancedSampler(DOMAINS, 4)

"""Batch samplers that balance source domains, for domain-generalisation training.

Alignment losses compare feature statistics between the source domains present in a batch, so
every batch must hold several domains. :class:`DomainBalancedBatchSampler` splits each batch as
evenly as possible across the domains (the domains that get the one extra item rotate from
batch to batch); within a domain, items are drawn without replacement from a fresh permutation
each pass, so a small domain is repeated while a large one is sub-sampled within an epoch.

:class:`DistributedDomainBalancedSampler` does the same under DDP: every rank permutes each
domain with the same seed, takes its own interleaved share (disjoint across ranks), and yields
the same number of batches as every other rank.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler

from eegkit.data.types import DataError


class DomainBalancedBatchSampler(Sampler[list[int]]):
    """Yields batches of dataset indices with roughly equal counts per domain.

    Parameters
    ----------
    domains : array-like of int, shape (n_items,)
        Domain id of every item of the dataset.
    batch_size : int
        Items per batch (per rank in the distributed subclass).
    num_batches : int, optional
        Batches per epoch; default: the number of items (on this rank) // ``batch_size``.
    seed : int
        Batches depend only on ``seed`` and the epoch set with :meth:`set_epoch`.
    """

    def __init__(self, domains, batch_size: int, num_batches: int | None = None,
                 seed: int = 0):
        self.domains = np.asarray(domains)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(self.domains) == 0:
            raise DataError(None, "domain-balanced sampler got an empty dataset")
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.epoch = 0
        self.domain_ids = np.unique(self.domains)
        self._num_batches = num_batches
        self._shards = [np.flatnonzero(self.domains == d) for d in self.domain_ids]

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for ``epoch`` (Lightning calls this at the start of every epoch)."""
        self.epoch = int(epoch)

    def _pools(self) -> list[np.ndarray]:
        """Indices of each domain available to this sampler."""
        return self._shards

    def _n_items(self) -> int:
        return len(self.domains)

    def __len__(self) -> int:
        if self._num_batches is not None:
            return int(self._num_batches)
        return max(1, self._n_items() // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        pools = self._pools()
        n_dom = len(pools)
        shared_rng = np.random.default_rng([self.seed, self.epoch, 1])
        order = [rng.permutation(p) for p in pools]
        cursor = np.zeros(n_dom, dtype=np.int64)
        for b in range(len(self)):
            if n_dom <= self.batch_size:
                chosen = np.arange(n_dom)
            else:  # more domains than slots: a random subset of batch_size domains
                chosen = np.sort(shared_rng.choice(n_dom, self.batch_size, replace=False))
            counts = np.full(len(chosen), self.batch_size // len(chosen))
            extra = self.batch_size - counts.sum()
            counts[(np.arange(extra) + b) % len(chosen)] += 1  # rotate who gets the extra item
            batch = []
            for d, k in zip(chosen, counts, strict=True):
                take = np.empty(0, dtype=np.int64)
                while len(take) < k:  # refill the domain's permutation when it runs out
                    if cursor[d] >= len(order[d]):
                        order[d], cursor[d] = rng.permutation(pools[d]), 0
                    got = order[d][cursor[d]: cursor[d] + k - len(take)]
                    cursor[d] += len(got)
                    take = np.concatenate([take, got])
                batch.append(take)
            batch = np.concatenate(batch)
            yield rng.permutation(batch).tolist()


class DistributedDomainBalancedSampler(DomainBalancedBatchSampler):
    """:class:`DomainBalancedBatchSampler` for DDP: disjoint items per rank and epoch.

    Parameters
    ----------
    domains, batch_size, num_batches, seed
        As in :class:`DomainBalancedBatchSampler`; ``batch_size`` is per rank, and the default
        ``num_batches`` is computed from the smallest rank share, so every rank yields the same
        number of batches.
    num_replicas, rank : int, optional
        World size and this process's rank; read from ``torch.distributed`` when not given.
    """

    def __init__(self, domains, batch_size: int, num_batches: int | None = None,
                 seed: int = 0, num_replicas: int | None = None, rank: int | None = None):
        if num_replicas is None or rank is None:
            import torch.distributed as dist

            if not (dist.is_available() and dist.is_initialized()):
                raise RuntimeError("give num_replicas and rank, or initialise torch.distributed")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} out of range for {num_replicas} replicas")
        super().__init__(domains, batch_size, num_batches, seed)
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        small = [int(self.domain_ids[i]) for i, s in enumerate(self._shards)
                 if len(s) < self.num_replicas]
        if small:
            raise DataError(None, f"domain(s) {small} have fewer items than {num_replicas} ranks")

    def _pools(self) -> list[np.ndarray]:
        # the same permutation on every rank (seeded by seed and epoch only), then an
        # interleaved share per rank: shares are disjoint and differ by at most one item
        shared = np.random.default_rng([self.seed, self.epoch, 2])
        return [shared.permutation(s)[self.rank:: self.num_replicas] for s in self._shards]

    def _n_items(self) -> int:
        return sum(len(s) // self.num_replicas for s in self._shards)


__all__ = ["DistributedDomainBalancedSampler", "DomainBalancedBatchSampler"]

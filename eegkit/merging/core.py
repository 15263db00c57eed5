"""State-dict plumbing shared by the merging methods: validation, chunking, exact global order
statistics and per-model / per-layer coefficients.

Every method works one parameter chunk at a time: a chunk is a contiguous slice (a view, not a
copy) of one flattened tensor, taken from the ancestor and from each fine-tuned model. No
function here concatenates the parameters of a model, so the extra memory of a merge is the merged
state dict plus ``n_models × chunk_size`` temporaries.

Methods that rank entries over a *whole* model (TIES keeps the top-k % magnitudes of each task
vector, PCB the top-r quantile of its balancing scores) need the exact k-th largest score of each
model without flattening it. :func:`kth_largest` finds it by a two-pass radix select on the bit
patterns of the float32 scores: for non-negative IEEE-754 floats, the integer order of the bit
patterns is the numeric order, so a histogram of the upper 16 bits (pass 1) locates the bucket
that holds the k-th largest value and a histogram of the lower 16 bits within that bucket (pass 2)
gives the exact value. Each pass streams over the chunks; memory is two 65,536-bin histograms per
model. The result equals ``torch.kthvalue`` on the flattened scores (tested against it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import torch

from eegkit.data.types import DataError

StateDict = Mapping[str, torch.Tensor]
#: A scalar (every model, every tensor), one value per model, or ``{name prefix: either}``
#: (the longest prefix of a tensor's name wins; ``""`` is the default).
Coefficients = float | Sequence[float] | Mapping[str, float | Sequence[float]]

#: Elements per chunk: large tensors are processed in slices of this size.
CHUNK = 1 << 20
_HALF = 1 << 16


def check_compatible(pretrained: StateDict | None, finetuned: Sequence[StateDict]) -> list[str]:
    """The tensor names shared by all models, in the first model's order.

    Raises
    ------
    DataError
        When there is no fine-tuned model, or when names, shapes or dtypes differ.
    """
    if not finetuned:
        raise DataError(None, "merging needs at least one fine-tuned state dict")
    reference = finetuned[0]
    others = [("pretrained", pretrained)] if pretrained is not None else []
    others += [(f"finetuned[{i}]", sd) for i, sd in enumerate(finetuned[1:], 1)]
    for label, sd in others:
        if set(sd) != set(reference):
            diff = sorted(set(sd) ^ set(reference))[:5]
            raise DataError(None, f"state dict {label} does not have the tensors of "
                            f"finetuned[0] (differing names, first 5: {diff})")
        for name, t in sd.items():
            ref = reference[name]
            if t.shape != ref.shape or t.dtype != ref.dtype:
                raise DataError(None, f"tensor {name!r} of state dict {label} is "
                                f"{tuple(t.shape)} {t.dtype}, finetuned[0] has "
                                f"{tuple(ref.shape)} {ref.dtype}")
    return list(reference)


def is_float(t: torch.Tensor) -> bool:
    """Whether a tensor is merged (floating point); integer buffers are copied, not merged."""
    return torch.is_floating_point(t)


def chunks(numel: int, chunk: int = CHUNK) -> Iterator[slice]:
    """Slices covering ``range(numel)`` in pieces of at most ``chunk`` elements."""
    for start in range(0, max(numel, 1), chunk):
        yield slice(start, min(start + chunk, numel))


def flat(t: torch.Tensor) -> torch.Tensor:
    """A flattened view of ``t`` (a copy only if ``t`` is not contiguous)."""
    return t.reshape(-1)


def stacked_chunks(pretrained: StateDict | None, finetuned: Sequence[StateDict],
                   names: Sequence[str], chunk: int = CHUNK
                   ) -> Iterator[tuple[str, slice, torch.Tensor | None, torch.Tensor]]:
    """``(name, slice, ancestor chunk, (n, m) stack of the fine-tuned chunks)`` per chunk.

    Chunks are in float32 (or float64 when the tensors are) so low-precision models merge in full
    precision; the stack is the only copy made, ``n × chunk`` elements.
    """
    for name in names:
        dtype = torch.promote_types(finetuned[0][name].dtype, torch.float32)
        for sl in chunks(finetuned[0][name].numel(), chunk):
            stack = torch.stack([flat(sd[name])[sl].to(dtype) for sd in finetuned])
            pre = None if pretrained is None else flat(pretrained[name])[sl].to(dtype)
            yield name, sl, pre, stack


def task_vector_chunks(pretrained: StateDict, finetuned: Sequence[StateDict],
                       names: Sequence[str], chunk: int = CHUNK
                       ) -> Iterator[tuple[str, slice, torch.Tensor, torch.Tensor]]:
    """``(name, slice, ancestor chunk, (n, m) task vectors τ_i = θ_i − θ_pre)`` per chunk."""
    for name, sl, pre, stack in stacked_chunks(pretrained, finetuned, names, chunk):
        yield name, sl, pre, stack - pre


def new_like(sd: StateDict, names: Sequence[str]) -> dict[str, torch.Tensor]:
    """Empty tensors shaped like ``sd[name]`` for the merged result."""
    return {name: torch.empty_like(sd[name]) for name in names}


def coefficient(lam: Coefficients, name: str, n: int) -> torch.Tensor:
    """The ``(n,)`` per-model coefficients of tensor ``name`` (see :data:`Coefficients`)."""
    if isinstance(lam, Mapping):
        matches = [p for p in lam if name.startswith(p)]
        if not matches:
            raise DataError(None, f"no coefficient prefix matches tensor {name!r} "
                            f"(prefixes: {sorted(lam)}; add '' as a default)")
        lam = lam[max(matches, key=len)]
    values = torch.as_tensor(lam, dtype=torch.float64).reshape(-1)
    if values.numel() == 1:
        return values.expand(n).clone()
    if values.numel() != n:
        raise DataError(None, f"{values.numel()} coefficients for {n} models (tensor {name!r})")
    return values


def kth_largest(scores: Callable[[], Iterator[torch.Tensor]], k: Sequence[int]) -> torch.Tensor:
    """The exact ``k[i]``-th largest value of row ``i`` of non-negative scores given in chunks.

    Parameters
    ----------
    scores : callable
        Returns a fresh iterator of ``(n, m)`` chunks of non-negative finite scores (row ``i`` is
        model ``i``); called twice (one pass per 16-bit half of the float32 bit pattern).
    k : sequence of int
        Rank per row, ``1 <= k[i] <=`` number of scores of row ``i``.

    Returns
    -------
    Tensor
        ``(n,)`` float32 thresholds ``t`` with ``#(score >= t) >= k`` and ``#(score > t) < k``.
    """
    k = torch.as_tensor(list(k), dtype=torch.int64)
    n = len(k)

    def histogram(select_high: torch.Tensor | None) -> torch.Tensor:
        hist = torch.zeros(n, _HALF, dtype=torch.int64)
        pending: list[list[torch.Tensor]] = [[] for _ in range(n)]

        def flush() -> None:
            # One bincount per model over the buffered keys: a bincount has a fixed cost of
            # _HALF bins, so the many small tensors of a model are counted together.
            for r in range(n):
                if pending[r]:
                    hist[r] += torch.bincount(torch.cat(pending[r]), minlength=_HALF)
                    pending[r] = []

        buffered = 0
        for s in scores():
            # + 0.0 turns -0.0 (sign bit set, a negative bit pattern) into +0.0.
            bits = (s.to(torch.float32).clamp_min(0) + 0.0).contiguous().view(torch.int32)
            high = bits >> 16
            for r in range(n):
                if select_high is None:
                    pending[r].append(high[r])
                else:  # pass 2: only the bucket found in pass 1, by its lower 16 bits
                    pending[r].append(bits[r][high[r] == select_high[r]] & (_HALF - 1))
            buffered += s.shape[1]
            if buffered >= _HALF * 16:
                flush()
                buffered = 0
        flush()
        return hist

    def locate(hist: torch.Tensor, rank: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Counts at or above each bin (cumulative from the top); the bin holding the rank-th
        # largest is the highest bin whose count-at-or-above reaches the rank.
        above = hist.flip(1).cumsum(1).flip(1)
        if bool((above[:, 0] < rank).any()):
            raise ValueError(f"rank {rank.tolist()} exceeds the number of scores "
                             f"{above[:, 0].tolist()}")
        b = (above >= rank[:, None]).sum(1) - 1
        beyond = torch.where(b + 1 < _HALF, above.gather(1, (b + 1).clamp_max(_HALF - 1)[:, None])
                             .squeeze(1), torch.zeros_like(b))
        return b, rank - beyond

    if bool((k < 1).any()):
        raise ValueError(f"ranks must be >= 1, got {k.tolist()}")
    high, rest = locate(histogram(None), k)
    low, _ = locate(histogram(high), rest)
    bits = ((high << 16) | low).to(torch.int32)
    return bits.view(torch.float32)

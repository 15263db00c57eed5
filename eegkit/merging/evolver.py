"""Evolver: differential evolution over a population of fine-tuned models.

The population is the fine-tuned state dicts. For each member i in turn an offspring is built by
DE mutation, x' = θ_a + F (θ_b − θ_c) (``"rand/1"``: a, b, c distinct and ≠ i) or
x' = θ_best + F (θ_b − θ_c) (``"best/1"``, b, c ≠ i, best), then binomial crossover: each
entry of every floating-point tensor is taken from x' with probability CR, else from the parent.
The offspring replaces its parent only if its validation score is *strictly* better.
Normalisation statistics and integer buffers of an offspring are its parent's (a mutated running
variance can be negative); recompute them afterwards if needed
(:func:`eegkit.merging.rules.recompute_norm_stats`).

Fitness is either the score of the individual (``merger=None``) or, wrapping a merger, the score
of the merged population with the offspring in place of its parent (the current fitness is then
the score of the merged current population). The result is the merged final population, or the
best individual without a merger.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from eegkit.merging.core import CHUNK, StateDict, check_compatible, chunks, flat, is_float
from eegkit.merging.rules import is_norm_stat

STRATEGIES = ("rand/1", "best/1")


@dataclass
class EvolverResult:
    """Outcome of :func:`evolve`.

    Attributes
    ----------
    model : dict
        The merged final population (with a merger) or its best individual.
    score : float
        Validation score of ``model``.
    population : list of dict
        The final population.
    scores : list of float
        Fitness of each member (individual mode) or of the merged population repeated.
    history : list of dict
        One entry per offspring: ``step``, ``member``, ``parent``, ``child`` scores, ``accepted``.
    """

    model: dict
    score: float
    population: list
    scores: list
    history: list = field(default_factory=list)


def offspring(parent: StateDict, base: StateDict, plus: StateDict, minus: StateDict,
              f: float, cr: float, generator: torch.Generator, chunk: int = CHUNK) -> dict:
    """DE mutation ``base + f (plus − minus)`` crossed with ``parent`` at rate ``cr`` per entry.

    Only learnable floating-point tensors evolve; statistics and integer buffers are the
    parent's.
    """
    child = {}
    for name, p in parent.items():
        if not is_float(p) or is_norm_stat(name):
            child[name] = p.clone()
            continue
        out = torch.empty_like(p)
        for sl in chunks(p.numel(), chunk):
            mutant = flat(base[name])[sl] + f * (flat(plus[name])[sl] - flat(minus[name])[sl])
            take = torch.rand(mutant.shape, generator=generator) < cr
            flat(out)[sl] = torch.where(take, mutant, flat(p)[sl])
        child[name] = out
    return child


def evolve(population: Sequence[StateDict], score: Callable[[StateDict], float], *,
           steps: int = 2, f: float = 0.5, cr: float = 0.5, strategy: str = "rand/1",
           merger: Callable[[list], dict] | None = None, seed: int = 0,
           chunk: int = CHUNK) -> EvolverResult:
    """Evolve the population for ``steps`` generations (one offspring per member each).

    Parameters
    ----------
    population : sequence of state dicts
        The fine-tuned models (at least 4).
    score : callable
        Validation score of a state dict (higher is better); on source-domain data only.
    steps : int
        Generations.
    f : float
        Mutation factor F.
    cr : float
        Crossover rate CR in [0, 1] (probability that an entry comes from the mutant).
    strategy : {"rand/1", "best/1"}
    merger : callable, optional
        ``merger(list of state dicts) -> state dict``; when given, fitness is the score of the
        merged population (see the module docstring).
    seed : int
        Seeds the choice of a, b, c and the crossover masks.
    chunk : int
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not 0.0 <= cr <= 1.0:
        raise ValueError(f"cr must be in [0, 1], got {cr}")
    n = len(population)
    if n < 4:  # a, b, c distinct and different from the parent
        raise ValueError(f"differential evolution needs a population of at least 4, got {n}")
    check_compatible(None, population)
    pop = [dict(sd) for sd in population]
    g = torch.Generator().manual_seed(seed)

    def fitness(members: list) -> float:
        return float(score(merger(members) if merger is not None else members[-1]))

    if merger is None:
        scores = [float(score(sd)) for sd in pop]
    else:
        scores = [float(score(merger(pop)))] * n
    history = []
    for step in range(steps):
        for i in range(n):
            others = [j for j in range(n) if j != i]
            pick = [others[j] for j in torch.randperm(len(others), generator=g).tolist()]
            if strategy == "best/1":
                best = max(range(n), key=scores.__getitem__)
                base, (b, c) = best, [j for j in pick if j != best][:2]
            else:
                base, b, c = pick[:3]
            child = offspring(pop[i], pop[base], pop[b], pop[c], f, cr, g, chunk)
            if merger is None:
                child_score = fitness([child])
            else:
                child_score = fitness([*pop[:i], child, *pop[i + 1:]])
            accepted = child_score > scores[i]
            history.append({"step": step, "member": i, "parent": scores[i],
                            "child": child_score, "accepted": accepted})
            if accepted:
                pop[i] = child
                if merger is None:
                    scores[i] = child_score
                else:
                    scores = [child_score] * n
    if merger is not None:
        return EvolverResult(merger(pop), scores[0], pop, scores, history)
    best = max(range(n), key=scores.__getitem__)
    return EvolverResult(pop[best], scores[best], pop, scores, history)

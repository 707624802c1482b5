"""What a model file says about itself: the rt_info ``model_info`` section, and Ultralytics' metadata.yaml.

Ultralytics exports (and OpenVINO's model_api) write into the IR's rt_info how the
network's images were prepared and its class names; an Ultralytics export folder also
holds ``metadata.yaml`` with the names. All of it is optional: without it the
contract's defaults hold and the names come from ``--labels``.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path

import openvino as ov

from .contracts import Preprocessing
from .errors import DemoError
from .geometry import ResizePolicy

log = logging.getLogger(__name__)

SECTION = "model_info"
# model_api's names for the resize policies the demo implements.
RESIZE_TYPES = {
    "standard": ResizePolicy.STRETCH,
    "fit_to_window": ResizePolicy.FIT,
    "fit_to_window_letterbox": ResizePolicy.LETTERBOX,
}
BOOLEANS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
METADATA_FILE = "metadata.yaml"
_NAME_LINE = re.compile(r"\s+(\d+):\s*(.*?)\s*")


@dataclass(frozen=True)
class ModelInfo:
    """The model's own statements; None (or no labels) where it says nothing."""

    policy: ResizePolicy | None = None
    reverse_channels: bool | None = None
    mean: tuple[float, ...] | None = None
    scale: tuple[float, ...] | None = None
    pad_value: float | None = None
    iou_threshold: float | None = None
    labels: tuple[str, ...] = ()

    def preprocessing(self, defaults: Preprocessing) -> Preprocessing:
        """The contract's defaults, with whatever the model states in their place."""
        stated = {"policy": self.policy, "reverse_channels": self.reverse_channels, "mean": self.mean,
                  "scale": self.scale, "pad_value": self.pad_value}
        return replace(defaults, **{key: value for key, value in stated.items() if value is not None})


def read_model_info(model: ov.Model, path: Path) -> ModelInfo:
    """Read ``model_info`` from the model's rt_info, and the class names from it or metadata.yaml beside the model."""
    def text(key: str) -> str | None:
        return model.get_rt_info([SECTION, key]).astype(str).strip() if model.has_rt_info([SECTION, key]) else None

    def numbers(key: str) -> tuple[float, ...] | None:
        value = text(key)
        if value is None:
            return None
        try:
            return tuple(float(part) for part in value.replace(",", " ").split())
        except ValueError:
            raise DemoError(f"{path}: rt_info {SECTION} {key} should be numbers, not {value!r}") from None

    reverse = text("reverse_input_channels")
    if reverse is not None and reverse.lower() not in BOOLEANS:
        raise DemoError(f"{path}: rt_info {SECTION} reverse_input_channels should be YES or NO, not {reverse!r}")
    pad_value, iou_threshold = numbers("pad_value"), numbers("iou_threshold")
    # Names cannot hold spaces in the space-separated list, so exporters write them as underscores.
    labels = tuple(name.replace("_", " ") for name in (text("labels") or "").split())
    return ModelInfo(policy=_resize_policy(text("resize_type"), path),
                     reverse_channels=None if reverse is None else BOOLEANS[reverse.lower()],
                     mean=numbers("mean_values"), scale=numbers("scale_values"),
                     pad_value=_single(pad_value, "pad_value", path),
                     iou_threshold=_single(iou_threshold, "iou_threshold", path),
                     labels=labels or metadata_names(path.parent / METADATA_FILE))


def metadata_names(path: Path) -> tuple[str, ...]:
    """The ``names:`` block of an Ultralytics metadata.yaml (``  0: person`` lines); () if absent or not 0..N-1."""
    if not path.is_file():
        return ()
    names: dict[int, str] = {}
    in_names = False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line[:1] not in (" ", "\t"):
            in_names = line.strip() == "names:"
        elif in_names and (entry := _NAME_LINE.fullmatch(line)):
            names[int(entry[1])] = entry[2].strip("'\"")
    return tuple(names[i] for i in range(len(names))) if sorted(names) == list(range(len(names))) else ()


def _resize_policy(resize_type: str | None, path: Path) -> ResizePolicy | None:
    if resize_type is None:
        return None
    if resize_type not in RESIZE_TYPES:
        log.warning("%s: rt_info resize_type %r is not one the demo implements (%s); using the default",
                    path.name, resize_type, ", ".join(RESIZE_TYPES))
    return RESIZE_TYPES.get(resize_type)


def _single(values: tuple[float, ...] | None, key: str, path: Path) -> float | None:
    if values is not None and len(values) != 1:
        raise DemoError(f"{path}: rt_info {SECTION} {key} should be one number, not {len(values)}")
    return None if values is None else values[0]

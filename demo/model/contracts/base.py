"""What every model contract gives and takes: detections in model-input pixels, the images it was
trained on, the limits a caller sets per frame, and the failure of a model that only half fits."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import openvino as ov

from demo.model.geometry import ResizePolicy


@dataclass
class Detections:
    """One frame's detections that passed the score threshold, in model-input pixels.

    ``heatmaps[i]`` is a sigmoid heatmap. With ``plane_stride`` None it spans ``boxes[i]``
    exactly (Mask R-CNN style); otherwise it covers the whole model input, cell (r, c)
    spanning input pixels [c*sx, (c+1)*sx) x [r*sy, (r+1)*sy) for ``plane_stride`` (sx, sy),
    and only its part inside the box belongs to the instance (YOLO prototypes). With ``alpha``
    the plane is a matting model's 0..1 opacity of the person, kept soft.
    """

    class_ids: np.ndarray  # [N] int
    scores: np.ndarray  # [N] float32
    boxes: np.ndarray  # [N, 4] float32, x1, y1, x2, y2
    heatmaps: np.ndarray  # [N, h, w] float32
    plane_stride: tuple[float, float] | None = None
    alpha: bool = False  # the heatmaps are alpha mattes over the whole input: soft, never thresholded

    def __len__(self) -> int:
        return len(self.scores)

    def of_classes(self, class_ids: frozenset[int]) -> Detections:
        """Only the detections of these classes (a matte, which is the person, stays whole)."""
        if self.alpha:
            return self
        return self.only(np.isin(self.class_ids, list(class_ids)))

    def only(self, keep: np.ndarray) -> Detections:
        """The detections that ``keep`` (booleans or indices) selects."""
        return replace(self, class_ids=self.class_ids[keep], scores=self.scores[keep], boxes=self.boxes[keep],
                       heatmaps=self.heatmaps[keep])


@dataclass(frozen=True)
class Preprocessing:
    """How the network's training images were prepared; the graph does the same to BGR u8 frames.

    Steps run in this order: resize (and pad with ``pad_value``), reverse channels, subtract
    ``mean``, divide by ``scale`` (one value, or one per channel in the network's order).
    """

    reverse_channels: bool = False  # True: the network takes RGB
    mean: tuple[float, ...] = (0.0,)
    scale: tuple[float, ...] = (1.0,)
    pad_value: float = 0.0
    policy: ResizePolicy | None = None  # None: the Open Model Zoo model's own, else stretch


@dataclass(frozen=True)
class DecodeLimits:
    """What a caller keeps of one frame's detections; set per call, so changing them never recompiles."""

    threshold: float = 0.5  # the lowest score kept
    iou_threshold: float | None = None  # class-aware NMS, for models whose outputs are not suppressed yet
    max_det: int = 100

    def iou(self, default: float) -> float:
        """The NMS threshold asked for, else the contract's own ``default``."""
        return default if self.iou_threshold is None else self.iou_threshold


class Misfit(Exception):
    """The model has a contract's signature but one of its dimensions, or its own metadata, disagrees."""


class Contract:
    """What a model of one kind gives and takes. Each contract subclasses this and overrides the
    capabilities its kind has; callers ask them rather than which contract it is."""

    kind: ClassVar[str]  # the --model_type that forces it
    image_input: int
    preprocessing: ClassVar[Preprocessing]
    # Capabilities, overridden by the kinds that have them:
    stateful: ClassVar[bool] = False  # keeps states in the infer request: one request, frames in order
    soft_output: ClassVar[bool] = False  # an alpha matte of the person rather than instances: background mode only

    @property
    def plate_input(self) -> int | None:
        """The input that takes a clean plate of the scene without the person, if this kind has one."""
        return None

    @property
    def extra_image_inputs(self) -> tuple[int, ...]:
        """The inputs besides ``image_input`` that take a BGR u8 image, prepared as the frame is."""
        return () if self.plate_input is None else (self.plate_input,)

    def prepare(self, model: ov.Model) -> None:
        """Give ``model`` what this kind needs before its pre-processing is embedded (static shapes, states)."""

    def extra_inputs(self, input_size: tuple[int, int]) -> dict[int, np.ndarray]:
        """The inputs other than images that each inference takes, by input index."""
        return {}

    def decode(self, outputs: list[np.ndarray], limits: DecodeLimits) -> Detections:
        raise NotImplementedError

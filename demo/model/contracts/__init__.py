"""Which kind of segmentation model this is, recognised from its inputs and outputs.

A contract knows where each output of its kind is, how its images were prepared in
training, and how to turn one inference's outputs into :class:`Detections` in
model-input pixels, keeping what the caller's :class:`DecodeLimits` allow. Recognition
goes by rank, shape and element type, never by fixed names or sizes, so re-exported,
quantised and converted (TFLite) models work.

Each contract (one module each) first asks whether a model has its kind's signature at
all (no: ``None``), then checks every dimension it relies on, and what the model says
about itself (its class names, Ultralytics' task, ``end2end`` and image size); a model
that has the signature but fails a check is refused with the reason (:class:`Misfit`)
rather than decoded into rubbish.
"""
from demo.model.contracts.base import Contract, DecodeLimits, Detections, Misfit, Preprocessing
from demo.model.contracts.maskrcnn import MaskRCNNContract
from demo.model.contracts.matting import MattingContract
from demo.model.contracts.plate import PlateMattingContract
from demo.model.contracts.ports import image_layout, image_size
from demo.model.contracts.recognition import CONTRACTS, MODEL_TYPES, recognise
from demo.model.contracts.recurrent import RecurrentMattingContract
from demo.model.contracts.two_input import TwoInputContract
from demo.model.contracts.yolact import YOLACT_IOU_THRESHOLD, YolactContract
from demo.model.contracts.yolo import YOLO_IOU_THRESHOLD, YoloEnd2EndContract, YoloSegContract

__all__ = ["CONTRACTS", "MODEL_TYPES", "YOLACT_IOU_THRESHOLD", "YOLO_IOU_THRESHOLD", "Contract", "DecodeLimits",
           "Detections", "MaskRCNNContract", "MattingContract", "Misfit", "PlateMattingContract", "Preprocessing",
           "RecurrentMattingContract", "TwoInputContract",
           "YolactContract", "YoloEnd2EndContract", "YoloSegContract", "image_layout", "image_size", "recognise"]

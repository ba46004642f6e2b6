"""gradmodes: small, verified examples of PyTorch's training and gradient switches.

>>> import torch
>>> import gradmodes
>>> model = gradmodes.SimpleModel()
>>> with gradmodes.evaluating(model):
...     seen = gradmodes.observe(model, torch.randn(4, 10), grad_mode="inference_mode")
>>> seen.dropout_active, seen.saved_bytes, model.training
(False, 0, True)

The registered claims live in :mod:`gradmodes.claims`.
"""

from gradmodes.audit import Finding, audit
from gradmodes.casts import Casts, watch_casts
from gradmodes.compiling import DynamoLog, dynamo_log
from gradmodes.exporting import onnx_dropout_training, onnx_ops, run_onnx
from gradmodes.freeze import (
    freeze,
    freeze_batchnorm,
    trainable_parameters,
    unfreeze,
    unfreeze_batchnorm,
)
from gradmodes.lora import LoRALinear, add_lora
from gradmodes.matrix import MatrixRow, behaviour_matrix, format_matrix
from gradmodes.models import SimpleModel, mlp
from gradmodes.modes import GRAD_MODES, GradMode, evaluating, grad_context
from gradmodes.ops import recorded_ops
from gradmodes.probes import Observation, SavedTensors, count_saved, observe

__all__ = [
    "GRAD_MODES",
    "Casts",
    "DynamoLog",
    "Finding",
    "GradMode",
    "LoRALinear",
    "MatrixRow",
    "Observation",
    "SavedTensors",
    "SimpleModel",
    "add_lora",
    "audit",
    "behaviour_matrix",
    "count_saved",
    "dynamo_log",
    "evaluating",
    "format_matrix",
    "freeze",
    "freeze_batchnorm",
    "grad_context",
    "mlp",
    "observe",
    "onnx_dropout_training",
    "onnx_ops",
    "recorded_ops",
    "run_onnx",
    "trainable_parameters",
    "unfreeze",
    "unfreeze_batchnorm",
    "watch_casts",
]

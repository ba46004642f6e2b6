"""Read and run an ONNX export: its operators, its Dropout nodes' mode, its outputs.

These need the ``onnx`` and ``onnxruntime`` packages (the ``docs`` dependency group);
importing this module does not.

>>> import torch, warnings
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5)).eval()
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")  # the exporter's own deprecation warnings
...     program = torch.onnx.export(model, (torch.ones(2, 4),), dynamo=True, verbose=False)
>>> onnx_ops(program)  # exported in eval mode: the Dropout is gone
['Gemm']
>>> [tuple(out.shape) for out in run_onnx(program, torch.ones(2, 4))]
[(2, 4)]
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["onnx_dropout_training", "onnx_ops", "run_onnx"]


def _proto(program: object, function: str) -> Any:
    """The ``onnx.ModelProto`` of an ``ONNXProgram`` (or the proto itself)."""
    import onnx

    if isinstance(program, onnx.ModelProto):
        return program
    proto = getattr(program, "model_proto", None)
    if not isinstance(proto, onnx.ModelProto):
        raise TypeError(
            f"{function}() needs what torch.onnx.export(..., dynamo=True) returns or an "
            f"onnx.ModelProto, got {type(program).__name__}"
        )
    return proto


def onnx_ops(program: object) -> list[str]:
    """The operator of each node of the exported graph, in order, ``Constant`` nodes left out."""
    proto = _proto(program, "onnx_ops")
    return [node.op_type for node in proto.graph.node if node.op_type != "Constant"]


def onnx_dropout_training(program: object) -> list[bool]:
    """The ``training_mode`` input of each ``Dropout`` node: ``True`` drops, ``False``
    (or absent, the ONNX default) passes values through."""
    from onnx import numpy_helper

    proto = _proto(program, "onnx_dropout_training")
    values = {t.name: t for t in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type == "Constant" and node.attribute[0].name == "value":
            values[node.output[0]] = node.attribute[0].t
    modes = []
    for node in proto.graph.node:
        if node.op_type == "Dropout":
            name = node.input[2] if len(node.input) > 2 else ""
            modes.append(bool(numpy_helper.to_array(values[name])) if name else False)
    return modes


def run_onnx(program: object, *inputs: torch.Tensor, optimize: bool = True) -> list[torch.Tensor]:
    """Run the exported graph on ``inputs`` with onnxruntime on CPU; its outputs as tensors.

    ``optimize=False`` switches off onnxruntime's graph optimizations
    (``ORT_DISABLE_ALL``); by default the session uses onnxruntime's own default.
    """
    import onnxruntime

    proto = _proto(program, "run_onnx")
    for value in inputs:
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"run_onnx() takes tensors as inputs, got {type(value).__name__}")
    if not isinstance(optimize, bool):
        raise TypeError(f"optimize must be True or False, got {optimize!r}")
    options = onnxruntime.SessionOptions()
    if not optimize:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3  # errors only: no notes on stderr
    session = onnxruntime.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    names = [spec.name for spec in session.get_inputs()]
    if len(names) != len(inputs):
        raise ValueError(f"the exported graph takes {len(names)} inputs, got {len(inputs)}")
    feed = {name: value.detach().cpu().numpy() for name, value in zip(names, inputs, strict=True)}
    return [torch.from_numpy(out) for out in session.run(None, feed)]

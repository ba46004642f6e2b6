"""Small ONNX graphs built by hand, for tests that need one without running an exporter."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper


def identity(size: int = 2) -> onnx.ModelProto:
    """``y = Identity(x)`` on a float vector of ``size``."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [size])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def dropout(training: bool) -> onnx.ModelProto:
    """``y = Dropout(x, ratio=0.5, training_mode)``, the mode given as a Constant node."""
    nodes = [
        helper.make_node(
            "Constant", [], ["ratio"], value=helper.make_tensor("r", TensorProto.FLOAT, [], [0.5])
        ),
        helper.make_node(
            "Constant",
            [],
            ["mode"],
            value=helper.make_tensor("m", TensorProto.BOOL, [], [training]),
        ),
        helper.make_node("Dropout", ["x", "ratio", "mode"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "dropout",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)

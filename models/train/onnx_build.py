"""ONNX export of the trained scikit-learn MLPs, plus the numpy float32 twin of each graph.

Each exported file is self-describing: the raw (unscaled) features go in, the standardisation,
the network and the scoring are all inside the graph, and `metadata_props` carry the model type,
version, feature names in order, window length and neutral values. The agent reads those to
refuse a model whose features it cannot compute; the announcement's sha256 therefore covers the
feature contract too.

Only operators tract (the agent's runtime) implements are used: Sub, Div, Mul, Add, MatMul, Tanh,
Relu, Neg,
ReduceMax (opset 13, axes as attribute), Log, Sigmoid. The MLP body is what skl2onnx emits for
the MLPRegressor, re-wired without its Cast and Reshape.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType

OPSET = 13
IR_VERSION = 8


def mlp_nodes(mlp, n_in: int, prefix: str, input_name: str):
    """skl2onnx's MLPRegressor graph, prefixed, fed from `input_name`; returns (nodes, inits, out)."""
    proto = convert_sklearn(mlp, initial_types=[("x", FloatTensorType([None, n_in]))], target_opset=OPSET)
    g = proto.graph
    rename = {"x": input_name}
    nodes, inits = [], []
    for init in g.initializer:
        if init.name == "shape_tensor":
            continue
        t = onnx.TensorProto()
        t.CopyFrom(init)
        t.name = prefix + init.name
        rename[init.name] = t.name
        inits.append(t)
    last = None
    for n in g.node:
        if n.op_type == "Cast":  # the input is already float32
            rename[n.output[0]] = rename[n.input[0]]
            continue
        if n.op_type == "Reshape":  # [N, k] already; skl2onnx declares a wrong [N, 1] here
            rename[n.output[0]] = rename[n.input[0]]
            continue
        if n.op_type not in ("MatMul", "Add", "Tanh", "Relu"):
            raise ValueError(f"unexpected op {n.op_type} from skl2onnx")
        ins = [rename.get(i, prefix + i) for i in n.input]
        outs = [prefix + o for o in n.output]
        for o, p in zip(n.output, outs, strict=True):
            rename[o] = p
        nodes.append(helper.make_node(n.op_type, ins, outs, name=prefix + (n.name or n.output[0])))
        last = outs[0]
    out = rename.get(g.output[0].name, last)
    return nodes, inits, out


def const(name: str, arr) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def finish(graph, props: dict) -> bytes:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="hashward-train", producer_version="1")
    model.ir_version = IR_VERSION
    for k, v in props.items():
        entry = model.metadata_props.add()
        entry.key = k
        entry.value = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString(deterministic=True)


def direction_weights(directions):
    """(up, down) weight vectors: 1 where that side of the error counts."""
    up = [1.0 if d in ("up", "both") else 0.0 for d in directions]
    down = [1.0 if d in ("down", "both") else 0.0 for d in directions]
    return up, down


def sentinel_onnx(mlp, mean, scale, directions, ref_err, thr_log, slope, props: dict) -> bytes:
    """features [N,F] -> contrib [N,F] (per-feature normalised squared reconstruction error on
    the harmful side only) and score [N,1] = sigmoid(slope * (ln(max(contrib) + 1e-12) - thr_log))."""
    n = len(mean)
    nodes = [
        helper.make_node("Sub", ["features", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "scale"], ["scaled"]),
    ]
    body, inits, recon = mlp_nodes(mlp, n, "ae_", "scaled")
    nodes += body
    nodes += [
        helper.make_node("Sub", ["scaled", recon], ["diff"]),
        helper.make_node("Relu", ["diff"], ["above"]),
        helper.make_node("Neg", ["diff"], ["neg_diff"]),
        helper.make_node("Relu", ["neg_diff"], ["below"]),
        helper.make_node("Mul", ["above", "w_up"], ["above_w"]),
        helper.make_node("Mul", ["below", "w_down"], ["below_w"]),
        helper.make_node("Add", ["above_w", "below_w"], ["harm"]),
        helper.make_node("Mul", ["harm", "harm"], ["sq"]),
        helper.make_node("Div", ["sq", "ref_err"], ["contrib"]),
        helper.make_node("ReduceMax", ["contrib"], ["err"], axes=[1], keepdims=1),
        helper.make_node("Add", ["err", "eps"], ["err_eps"]),
        helper.make_node("Log", ["err_eps"], ["log_err"]),
        helper.make_node("Sub", ["log_err", "thr_log"], ["log_ratio"]),
        helper.make_node("Mul", ["log_ratio", "slope"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["score"]),
    ]
    up, down = direction_weights(directions)
    inits += [const("mean", mean), const("scale", scale), const("ref_err", ref_err),
              const("w_up", up), const("w_down", down),
              const("eps", [1e-12]), const("thr_log", [thr_log]), const("slope", [slope])]
    graph = helper.make_graph(
        nodes, "sentinel",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1]),
         helper.make_tensor_value_info("contrib", TensorProto.FLOAT, ["N", n])],
        initializer=inits,
    )
    return finish(graph, props)


def efficiency_onnx(mlp, mean, scale, y_mean, y_scale, props: dict) -> bytes:
    """features [N,F] -> expected [N,2] = [hashrate TH/s, wall power W]."""
    n = len(mean)
    nodes = [
        helper.make_node("Sub", ["features", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "scale"], ["scaled"]),
    ]
    body, inits, y = mlp_nodes(mlp, n, "mlp_", "scaled")
    nodes += body
    nodes += [
        helper.make_node("Mul", [y, "y_scale"], ["y_unscaled"]),
        helper.make_node("Add", ["y_unscaled", "y_mean"], ["expected"]),
    ]
    inits += [const("mean", mean), const("scale", scale), const("y_mean", y_mean), const("y_scale", y_scale)]
    graph = helper.make_graph(
        nodes, "efficiency",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n])],
        [helper.make_tensor_value_info("expected", TensorProto.FLOAT, ["N", 2])],
        initializer=inits,
    )
    return finish(graph, props)


# --------------------------------------------------------------------------------------------
# numpy float32 twins (used for evaluation and the golden vectors; onnxruntime only checks them)
# --------------------------------------------------------------------------------------------


def mlp_forward32(mlp, x: np.ndarray) -> np.ndarray:
    h = x.astype(np.float32)
    last = len(mlp.coefs_) - 1
    for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_, strict=True)):
        h = h @ w.astype(np.float32) + b.astype(np.float32)
        if i < last:
            if mlp.activation == "tanh":
                h = np.tanh(h)
            elif mlp.activation == "relu":
                h = np.maximum(h, np.float32(0))
            else:
                raise ValueError(mlp.activation)
    return h


def harmful_error(xs: np.ndarray, recon: np.ndarray, directions) -> np.ndarray:
    up, down = direction_weights(directions)
    d = (xs - recon).astype(np.float32)
    harm = np.maximum(d, np.float32(0)) * np.asarray(up, dtype=np.float32) + \
        np.maximum(-d, np.float32(0)) * np.asarray(down, dtype=np.float32)
    return harm * harm


def sentinel_forward32(mlp, mean, scale, directions, ref_err, thr_log, slope, x: np.ndarray):
    xs = (x.astype(np.float32) - np.asarray(mean, dtype=np.float32)) / np.asarray(scale, dtype=np.float32)
    recon = mlp_forward32(mlp, xs)
    contrib = harmful_error(xs, recon, directions) / np.asarray(ref_err, dtype=np.float32)
    err = contrib.max(axis=1, keepdims=True)
    logit = (np.log(err + np.float32(1e-12)) - np.float32(thr_log)) * np.float32(slope)
    score = (1.0 / (1.0 + np.exp(-logit.astype(np.float64)))).astype(np.float32)
    return score[:, 0], contrib


def efficiency_forward32(mlp, mean, scale, y_mean, y_scale, x: np.ndarray) -> np.ndarray:
    xs = (x.astype(np.float32) - np.asarray(mean, dtype=np.float32)) / np.asarray(scale, dtype=np.float32)
    y = mlp_forward32(mlp, xs)
    return y * np.asarray(y_scale, dtype=np.float32) + np.asarray(y_mean, dtype=np.float32)

"""Optional cross-check (needs requirements-check.txt): runs each exported graph in onnxruntime on
its golden vectors and compares with the numpy twin's results stored there. Not used in export.

    python check_onnx.py      # exits non-zero on a mismatch above 1e-4
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

MODELS = Path(__file__).resolve().parent.parent


def main() -> int:
    worst = 0.0
    for name in ("sentinel_rig", "sentinel_asic"):
        sess = ort.InferenceSession(str(MODELS / name / "model.onnx"))
        for line in (MODELS / name / "golden.jsonl").read_text().splitlines():
            g = json.loads(line)
            x = np.array([g["model_input"]], dtype=np.float32)
            score, _ = sess.run(None, {"features": x})
            worst = max(worst, abs(float(score[0, 0]) - g["score"]))
    sess = ort.InferenceSession(str(MODELS / "efficiency_asic" / "model.onnx"))
    for line in (MODELS / "efficiency_asic" / "golden.jsonl").read_text().splitlines():
        g = json.loads(line)
        (y,) = sess.run(None, {"features": np.array([g["features"]], dtype=np.float32)})
        worst = max(worst, float(np.max(np.abs(y[0] - np.array(g["expected"])) / np.abs(np.array(g["expected"])))))
    print(f"worst difference onnxruntime vs numpy twin: {worst:.3g}")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())

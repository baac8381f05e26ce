"""The example notebooks run top to bottom, and their objects render as HTML."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.ipynb")), ids=lambda p: p.name)
def test_example_notebook_runs(path):
    nb = nbformat.read(path, as_version=4)
    env_path = os.pathsep.join(p for p in (str(EXAMPLES.parent / "src"), os.environ.get("PYTHONPATH", "")) if p)
    os.environ["PYTHONPATH"] = env_path  # the kernel imports this checkout's dpsynth
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(EXAMPLES)}})
    client.execute()
    html = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "text/html" in o.get("data", {})]
    text = "\n".join(o["data"]["text/html"] for o in html)
    # The fitted model, its privacy report and the evaluation rendered as rich HTML.
    assert "Privacy guarantee" in text and "NOT FOR RELEASE" in text
    assert "Evaluation (reads raw rows" in text
    assert "<iframe srcdoc=" in text


def test_rich_display_of_the_core_objects():
    from dpsynth.data import PrivateData
    from dpsynth.data.domain import Column, Domain
    from dpsynth.evaluate import evaluate_all
    from dpsynth.privacy import PrivacyBudget
    from dpsynth.synth import create



    dom = Domain([Column("a", "categorical", categories=("x", "y")), Column("b", "numeric", lower=0, upper=1)])
    frame = pd.DataFrame({"a": ["x", "y"] * 200, "b": [0.1, 0.9] * 200})
    model = create("independent")
    assert "not fitted" in model._repr_html_()
    model.fit(PrivateData(frame, dom), PrivacyBudget(1.0, 1e-6))
    page = model._repr_html_()
    assert "Privacy guarantee" in page and "NOT FOR RELEASE" not in page  # unseeded: OS noise
    res = evaluate_all(frame, model.sample(400), dom, target=None)
    assert "marginal_tvd_1way" in res._repr_html_()
    assert res["marginal_tvd_1way"]._repr_html_().count("<tr>") == 2
    # Escaped: a hostile category name cannot inject markup.
    dom2 = Domain([Column("<script>", "categorical", categories=("x",))])
    m2 = create("independent").fit(PrivateData(pd.DataFrame({"<script>": ["x"] * 50}), dom2), 1.0)
    assert "<script>" not in m2._repr_html_()

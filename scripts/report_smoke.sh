#!/usr/bin/env bash
# Browser smoke test of the HTML report.
#
# Fits MST at ε = 1 on the bundled Adult (Private-PGM coding) training split with
# `dpsynth run --report`, renders a second report with a hold-out through `dpsynth report`,
# checks both pages reference nothing outside themselves, opens them in headless Chromium
# and checks the screenshots are non-trivial (large, many colours, not mostly blank).
#
# Usage: scripts/report_smoke.sh [OUT_DIR]        (default: $TMPDIR/dpsynth-report-smoke)
# Environment: DPSYNTH (the CLI), PYTHON, DATA, HOLDOUT, META, CHROMIUM, SEED (default 0;
# a seeded fit shows the NOT FOR RELEASE banner, which the smoke test checks too; SEED=
# fits from the system's secure noise and checks the banner is absent).
# Needs Debian's `chromium` (as root, a missing one is installed with apt-get); not part of
# `make test` (CI has no browser).
# Costs 37–55 CPU seconds (user + sys, browser included), most of it the two evaluations.
# Look at the PNGs: the Private-PGM coding of the default data has codes only, so for numeric
# densities, point masses and long category labels also run it on the raw Adult table:
#   DATA=../shared/datasets/adult/adult_train.csv HOLDOUT=../shared/datasets/adult/adult_test.csv \
#   META=metadata/adult.json scripts/report_smoke.sh /tmp/report-smoke-adult
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT_ARG=${1:-${TMPDIR:-/tmp}/dpsynth-report-smoke}
OUT=$(mkdir -p "$OUT_ARG" && cd "$OUT_ARG" && pwd)
DPSYNTH=${DPSYNTH:-$ROOT/.venv/bin/dpsynth}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
DATA=${DATA:-$ROOT/../shared/datasets/adult_pgm/train.csv}
HOLDOUT=${HOLDOUT:-$ROOT/../shared/datasets/adult_pgm/test.csv}
META=${META:-$ROOT/metadata/adult_pgm.json}
SEED=${SEED-0}
SEED_ARGS=()
[[ -n "$SEED" ]] && SEED_ARGS=(--random-state "$SEED")

CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [[ -z "$CHROMIUM" ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "chromium is missing: installing it with apt-get" >&2
        apt-get update -qq && apt-get install -y -qq chromium >/dev/null
        CHROMIUM=$(command -v chromium)
    else
        echo "error: headless Chromium is needed: apt-get install chromium (or set CHROMIUM=...)" >&2
        exit 2
    fi
fi

echo "== fit MST at ε = 1 and write report.html (evaluated against the input data)"
"$DPSYNTH" run "$DATA" --metadata "$META" --generator mst --epsilon 1 --delta 1e-9 \
    "${SEED_ARGS[@]}" --out-dir "$OUT" --report

echo "== report_holdout.html: the same model, evaluated against the training split and a hold-out"
"$DPSYNTH" report "$OUT/model.dps" --real "$DATA" --synthetic "$OUT/synthetic.csv" \
    --holdout "$HOLDOUT" -o "$OUT/report_holdout.html"

shoot() {  # shoot PAGE PNG HEIGHT
    local profile
    profile=$(mktemp -d)
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --hide-scrollbars --screenshot="$2" --window-size="1280,$3" \
        "file://$1" >/dev/null 2>&1 || true
    rm -rf "$profile"
}

echo "== screenshots with $CHROMIUM"
shoot "$OUT/report.html" "$OUT/report.png" 4000
shoot "$OUT/report_holdout.html" "$OUT/report_holdout.png" 4000
shoot "$OUT/report_holdout.html" "$OUT/report_holdout_full.png" 11000

echo "== checks"
"$PYTHON" - "$OUT" "$SEED" <<'PY'
import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image

out, seed = Path(sys.argv[1]), sys.argv[2]
external = re.compile(r"""\b(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import""", re.I)
failures = []
for name in ("report.html", "report_holdout.html"):
    page = (out / name).read_text(encoding="utf-8")
    if external.search(page) or "<script" in page.lower():
        failures.append(f"{name}: references something outside the page")
    sections = ["privacy", "fidelity", "utility", "discriminability", "audit"]
    if name == "report_holdout.html":
        sections.append("dcr")
    for sid in sections:
        if f'<section id="{sid}">' not in page:
            failures.append(f"{name}: section {sid!r} missing")
    if ("NOT FOR RELEASE" in page) != (seed != ""):
        failures.append(f"{name}: NOT FOR RELEASE banner does not match the seed")
for name in ("report.png", "report_holdout.png", "report_holdout_full.png"):
    path = out / name
    if not path.exists():
        failures.append(f"{name}: no screenshot")
        continue
    im = Image.open(path).convert("RGB")
    px = np.asarray(im.resize((im.width // 4, im.height // 4))).reshape(-1, 3)
    colours = len(np.unique(px, axis=0))
    blank = float((px.min(axis=1) > 245).mean())
    print(f"{name}: {im.width}x{im.height}, {path.stat().st_size // 1024} KiB, {colours} colours, {blank:.0%} near-white")
    if path.stat().st_size < 100_000 or colours < 500 or blank > 0.9:
        failures.append(f"{name}: looks blank or trivial")
if failures:
    print("FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
print(f"OK: pages and screenshots in {out}")
PY

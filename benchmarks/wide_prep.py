"""Complete a dataset's domain once with DP (ε = 1, seed 0) and write the table clamped to it.

Usage: python benchmarks/wide_prep.py <table.csv> <metadata.json> <out prefix>
Writes <prefix>_completed.json and <prefix>_clipped.csv, so that benchmarks/wide.py and
benchmarks/wide_profile.py time AIM without domain inference (research use: seeded).
"""

import sys

from dpsynth import api
from dpsynth.data.discretize import clamped_view
from dpsynth.data.io import open_table


def main() -> None:
    data, meta, out = sys.argv[1:4]
    model = api.fit(data, generator="independent", epsilon=1.0, delta=1e-5, metadata=meta, random_state=0)
    domain = model.domain_
    domain.to_json(out + "_completed.json")
    view = clamped_view(open_table(data), domain, validated=False)
    view.to_frame(domain).to_csv(out + "_clipped.csv", index=False)


if __name__ == "__main__":
    main()

"""dpsynth.report."""

"""dpsynth.evaluate."""

"""dpsynth.synth."""

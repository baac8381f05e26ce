"""Generators: the Synthesizer protocol and every registered generator."""

from dpsynth.synth.base import Synthesizer
from dpsynth.synth.registry import available, create, get_class, register

__all__ = ["Synthesizer", "available", "create", "get_class", "register"]

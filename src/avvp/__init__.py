"""avvp: audio-visual video parsing (LEAP, MM-CSE, HAN, MM-Pyramid) on LLP and AVE."""

from avvp.classes import LLP_CLASSES, NUM_CLASSES, NUM_SEGMENTS

__version__ = "0.1.0"
__all__ = ["LLP_CLASSES", "NUM_CLASSES", "NUM_SEGMENTS", "__version__"]

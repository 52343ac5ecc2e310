"""The LLP label space (docs/methods.md section 1): 25 classes in the benchmark's index order."""

from __future__ import annotations

LLP_CLASSES: tuple[str, ...] = (
    "Speech",
    "Car",
    "Cheering",
    "Dog",
    "Cat",
    "Frying_(food)",
    "Basketball_bounce",
    "Fire_alarm",
    "Chainsaw",
    "Cello",
    "Banjo",
    "Singing",
    "Chicken_rooster",
    "Violin_fiddle",
    "Vacuum_cleaner",
    "Baby_laughter",
    "Accordion",
    "Lawn_mower",
    "Motorcycle",
    "Helicopter",
    "Acoustic_guitar",
    "Telephone_bell_ringing",
    "Baby_cry_infant_cry",
    "Blender",
    "Clapping",
)
NUM_CLASSES: int = len(LLP_CLASSES)
NUM_SEGMENTS: int = 10
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(LLP_CLASSES)}

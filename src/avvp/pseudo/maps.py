"""Explicit class maps from teacher label spaces to the 25 LLP classes.

AudioSet -> LLP: every LLP class is an AudioSet ontology class, so each maps to the YAMNet class of
the same name plus a few of its direct children (e.g. Dog: Bark, Howl, ...). Names are YAMNet's
``display_name`` column of ``yamnet_class_map.csv``; a teacher scores an LLP class as the maximum
score of its YAMNet classes.

ImageNet -> LLP: ImageNet-1k has no person, crowd, baby, singer, alarm, helicopter or blender
class, so **Speech, Cheering, Fire_alarm, Singing, Baby_laughter, Helicopter,
Baby_cry_infant_cry, Blender and Clapping have no visual counterpart** and an ImageNet teacher
never marks them. The other classes map to ImageNet-1k indices (names in the standard class
index, e.g. ``"chain_saw"``); a teacher scores an LLP class as the summed softmax probability of
its ImageNet classes (they are mutually exclusive, so the sum is the probability of the group).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from avvp.classes import CLASS_INDEX, LLP_CLASSES, NUM_CLASSES

AUDIOSET_TO_LLP: Mapping[str, tuple[str, ...]] = {
    "Speech": ("Speech", "Child speech, kid speaking", "Conversation", "Narration, monologue"),
    "Car": ("Car", "Car passing by"),
    "Cheering": ("Cheering",),
    "Dog": ("Dog", "Bark", "Yip", "Howl", "Bow-wow", "Growling", "Whimper (dog)"),
    "Cat": ("Cat", "Purr", "Meow", "Caterwaul"),
    "Frying_(food)": ("Frying (food)", "Sizzle"),
    "Basketball_bounce": ("Basketball bounce",),
    "Fire_alarm": ("Fire alarm", "Smoke detector, smoke alarm"),
    "Chainsaw": ("Chainsaw",),
    "Cello": ("Cello",),
    "Banjo": ("Banjo",),
    "Singing": ("Singing", "Choir", "Child singing"),
    "Chicken_rooster": ("Chicken, rooster", "Cluck", "Crowing, cock-a-doodle-doo"),
    "Violin_fiddle": ("Violin, fiddle", "Pizzicato"),
    "Vacuum_cleaner": ("Vacuum cleaner",),
    "Baby_laughter": ("Baby laughter",),
    "Accordion": ("Accordion",),
    "Lawn_mower": ("Lawn mower",),
    "Motorcycle": ("Motorcycle",),
    "Helicopter": ("Helicopter",),
    "Acoustic_guitar": ("Acoustic guitar",),
    "Telephone_bell_ringing": ("Telephone bell ringing", "Ringtone"),
    "Baby_cry_infant_cry": ("Baby cry, infant cry",),
    "Blender": ("Blender",),
    "Clapping": ("Clapping", "Applause"),
}

# ImageNet-1k index -> name in the standard class index (for documentation and checks).
IMAGENET_TO_LLP: Mapping[str, Mapping[int, str]] = {
    "Car": {
        407: "ambulance",
        436: "beach_wagon",
        468: "cab",
        511: "convertible",
        609: "jeep",
        627: "limousine",
        656: "minivan",
        661: "Model_T",
        717: "pickup",
        751: "racer",
        817: "sports_car",
    },
    # All 118 dog breeds of ImageNet-1k (151 Chihuahua .. 268 Mexican_hairless).
    "Dog": {i: "dog breed" for i in range(151, 269)},
    "Cat": {
        281: "tabby",
        282: "tiger_cat",
        283: "Persian_cat",
        284: "Siamese_cat",
        285: "Egyptian_cat",
    },
    "Frying_(food)": {567: "frying_pan", 909: "wok"},
    "Basketball_bounce": {430: "basketball"},
    "Chainsaw": {491: "chain_saw"},
    "Cello": {486: "cello"},
    "Banjo": {420: "banjo"},
    "Chicken_rooster": {7: "cock", 8: "hen"},
    "Violin_fiddle": {889: "violin"},
    "Vacuum_cleaner": {882: "vacuum"},
    "Accordion": {401: "accordion"},
    "Lawn_mower": {621: "lawn_mower"},
    "Motorcycle": {665: "moped", 670: "motor_scooter"},
    "Acoustic_guitar": {402: "acoustic_guitar"},
    "Telephone_bell_ringing": {487: "cellular_telephone", 528: "dial_telephone", 707: "pay-phone"},
}

NO_VISUAL_COUNTERPART: tuple[str, ...] = tuple(c for c in LLP_CLASSES if c not in IMAGENET_TO_LLP)


def audioset_matrix(class_names: Sequence[str]) -> np.ndarray:
    """(len(class_names), 25) 0/1 matrix: which teacher classes feed which LLP class.

    ``class_names`` are the teacher's display names in output order (YAMNet's class map).

    Raises:
        KeyError: a mapped name is not among ``class_names`` (the wrong class map file).
    """
    index = {name: i for i, name in enumerate(class_names)}
    matrix = np.zeros((len(class_names), NUM_CLASSES), dtype=np.float32)
    for llp, names in AUDIOSET_TO_LLP.items():
        for name in names:
            if name not in index:
                raise KeyError(f"AudioSet class {name!r} (for LLP {llp}) not in the class map")
            matrix[index[name], CLASS_INDEX[llp]] = 1.0
    return matrix


def imagenet_matrix(num_classes: int = 1000) -> np.ndarray:
    """(num_classes, 25) 0/1 matrix of :data:`IMAGENET_TO_LLP`."""
    matrix = np.zeros((num_classes, NUM_CLASSES), dtype=np.float32)
    for llp, indices in IMAGENET_TO_LLP.items():
        for i in indices:
            matrix[i, CLASS_INDEX[llp]] = 1.0
    return matrix


def max_over_groups(scores: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, K) teacher scores -> (N, 25): the largest score of each LLP class's group (0 if none)."""
    masked = scores[:, :, None] * matrix[None, :, :]
    return masked.max(axis=1)


def sum_over_groups(probs: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, K) mutually exclusive probabilities -> (N, 25) group probabilities (clipped to 1)."""
    return np.clip(probs @ matrix, 0.0, 1.0)

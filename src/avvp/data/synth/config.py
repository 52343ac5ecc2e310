"""The knobs of the synthetic LLP generator (:class:`SynthConfig`) and the format version."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from avvp.errors import ConfigError

SYNTH_VERSION = 1
SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class SynthConfig:
    """Every knob of the synthetic LLP generator (all written to ``synth_config.json``).

    Sizes:
        num_train, num_val, num_test: videos per split (real LLP: 10000 / 649 / 1200).

    Annotations:
        pattern_shrinkage: pseudo-count pulling a class's event-row pattern distribution
            towards its modality's pooled distribution (rare classes have few real rows).

    Features (latent norms are Euclidean norms in the ``latent_dim`` space):
        latent_dim: dimension of each modality's latent space.
        hidden_dim: hidden width of each random feature MLP.
        signature_strength: norm of each class signature (audio and visual).
        amplitude_min, amplitude_max: per-event amplitude, uniform in this range (one draw per
            video, class and modality).
        segment_amplitude_jitter: std of the multiplicative per-segment amplitude variation.
        num_scenes: number of "background scene" prototypes per modality.
        scene_scale: norm of a scene prototype (the video's scene index is shared by audio and
            visual, the prototypes are not).
        nuisance_scale: expected norm of the per-video random offset.
        noise_scale: expected norm of the per-segment noise.
        noise_temporal_corr: AR(1) correlation of the segment noise between adjacent segments.
        nonlinearity: gain before the tanh of the feature MLPs (higher: more saturation, more
            interaction between overlapping events).
        overlap_masking: how much concurrent events of a modality mask each other: a segment's
            event weights are multiplied by (max weight / weight norm) ** overlap_masking
            (0: plain sum; 1: two equal events each count 1/sqrt(2); a lone event is unchanged).
        frame_noise_scale: within-segment variation of res152 frames and CLAP steps, relative to
            the spread of the feature pre-activations.

    Pseudo labels (per modality, from the ground truth; rates are per class, multiplied by a
    per-class factor exp(N(0, s^2) - s^2 / 2), s = ``pseudo_class_rate_spread``, capped at 0.95):
        pseudo_event_miss_rate: probability that a (class, modality) row with events is missed
            entirely.
        pseudo_segment_miss_rate: probability that a true segment is dropped.
        pseudo_boundary_shift_rate: probability that an event's onset (and, independently, its
            offset) moves by one segment (outwards or inwards, equally likely).
        pseudo_spurious_rate: probability that a negative segment of a class that has events in
            this modality becomes positive.
        pseudo_cross_modal_rate: probability that a labelled class absent from this modality
            gets the other modality's row as pseudo events (teachers confuse the modalities).
        pseudo_class_rate_spread: the per-class variation of all these rates.

    Output:
        valor_plus_plus: also write VALOR++ CLAP (64, 768) and CLIP (10, 768) features.
    """

    num_train: int = 1600
    num_val: int = 200
    num_test: int = 200
    pattern_shrinkage: float = 20.0
    latent_dim: int = 64
    hidden_dim: int = 256
    signature_strength: float = 1.0
    amplitude_min: float = 0.6
    amplitude_max: float = 1.4
    segment_amplitude_jitter: float = 0.15
    num_scenes: int = 16
    scene_scale: float = 1.0
    nuisance_scale: float = 1.0
    noise_scale: float = 2.0
    noise_temporal_corr: float = 0.5
    nonlinearity: float = 1.0
    overlap_masking: float = 1.0
    frame_noise_scale: float = 0.1
    pseudo_event_miss_rate: float = 0.2
    pseudo_segment_miss_rate: float = 0.15
    pseudo_boundary_shift_rate: float = 0.4
    pseudo_spurious_rate: float = 0.1
    pseudo_cross_modal_rate: float = 0.4
    pseudo_class_rate_spread: float = 0.3
    valor_plus_plus: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "valor_plus_plus":
                if not isinstance(value, bool):
                    raise ConfigError(f"synth config: {f.name} must be true/false, got {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"synth config: {f.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"synth config: {f.name} must be finite and >= 0, got {value!r}")
        for name in ("num_train", "num_val", "num_test", "latent_dim", "hidden_dim", "num_scenes"):
            if not isinstance(getattr(self, name), int):
                raise ConfigError(f"synth config: {name} must be an integer")
        for name in ("latent_dim", "hidden_dim", "num_scenes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"synth config: {name} must be >= 1")
        if self.amplitude_min > self.amplitude_max:
            raise ConfigError("synth config: amplitude_min must be <= amplitude_max")
        if self.noise_temporal_corr >= 1:
            raise ConfigError("synth config: noise_temporal_corr must be < 1")
        for name in (
            "pseudo_event_miss_rate",
            "pseudo_segment_miss_rate",
            "pseudo_boundary_shift_rate",
            "pseudo_spurious_rate",
            "pseudo_cross_modal_rate",
        ):
            if getattr(self, name) > 1:
                value = getattr(self, name)
                raise ConfigError(f"synth config: {name} is a probability, got {value}")

    def split_sizes(self) -> dict[str, int]:
        return {"train": self.num_train, "val": self.num_val, "test": self.num_test}

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str = "<dict>") -> SynthConfig:
        """Build from a dictionary (e.g. ``synth_config.json``'s ``config``); unknown keys fail."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown synth config key(s): {', '.join(unknown)}")
        return cls(**values)

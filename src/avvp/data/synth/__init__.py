"""Synthetic LLP: a dataset in the official layout, sampled from real LLP statistics.

It lets the pipeline (training, evaluation, demo) run and be tested without the multi-GB real
features. It is a fair stand-in, not a benchmark: numbers measured on it do not predict numbers
on real LLP. ``docs/synthetic.md`` describes the generative process and every knob.

Generative process (one seed fixes everything):

1. Annotations (:func:`sample_annotations`): a video's label set is drawn from the empirical
   distribution of real train label sets; each labelled class is audio-only / visual-only /
   audio-visual with the per-class proportions measured on real val+test; each present
   (class, modality) row is a whole 10-segment pattern drawn from the real patterns of that class
   and modality (shrunk towards the modality's pooled patterns); an audio-visual class copies its
   audio row to the visual one as often as real data does. Every video gets at least one audio
   and one visual event (the loader reports videos without rows as a defect).
2. A latent space per modality: each class has a random audio signature and an unrelated visual
   signature. A segment's latent is the sum of its active events' signatures (per-event and
   per-segment amplitude variation, concurrent events masking each other) plus a video-level
   nuisance (a "scene" prototype, the scene index shared by both modalities, and a random
   offset) plus temporally correlated per-segment noise.
3. Features: each feature space (vggish, res152, r2plus1d, clap, clip) is a fixed random
   2-layer tanh MLP of its modality's latent, so overlapping events interact non-linearly;
   res152 frames (8 per segment) and CLAP steps vary slightly within a segment.
4. VALOR-style pseudo labels: the ground truth with missed events and segments, shifted
   boundaries, spurious segments and cross-modal leaks, masked by the video label.

Modules: :mod:`~avvp.data.synth.config` (the knobs), :mod:`~avvp.data.synth.annotations` (steps 1
and 4), :mod:`~avvp.data.synth.features` (steps 2 and 3), :mod:`~avvp.data.synth.writing` (the
dataset on disk). Everything public is importable from ``avvp.data.synth``.
"""

from __future__ import annotations

from avvp.data.synth.annotations import (
    SynthAnnotations,
    make_pseudo_labels,
    sample_annotations,
    segment_f1,
)
from avvp.data.synth.config import SPLITS, SYNTH_VERSION, SynthConfig
from avvp.data.synth.features import (
    CLAP_STEPS,
    FRAMES_PER_SEGMENT,
    SynthWorld,
    build_world,
    synthesize_features,
)
from avvp.data.synth.writing import generate_synthetic_llp

__all__ = [
    "CLAP_STEPS",
    "FRAMES_PER_SEGMENT",
    "SPLITS",
    "SYNTH_VERSION",
    "SynthAnnotations",
    "SynthConfig",
    "SynthWorld",
    "build_world",
    "generate_synthetic_llp",
    "make_pseudo_labels",
    "sample_annotations",
    "segment_f1",
    "synthesize_features",
]

"""Timeline figures (ground truth vs predictions) and LEAP label-to-segment attention maps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from avvp.classes import LLP_CLASSES


def _active_classes(arrays: Sequence[np.ndarray]) -> list[int]:
    """Classes that are on anywhere in any of the (C, T) arrays, in class order."""
    active = np.zeros(arrays[0].shape[0], dtype=bool)
    for array in arrays:
        active |= np.asarray(array).astype(bool).any(axis=1)
    return [int(c) for c in np.flatnonzero(active)] or [0]


def plot_timelines(
    path: Path,
    *,
    names: Sequence[str],
    ground_truth: Mapping[str, np.ndarray],
    predictions: Mapping[str, Mapping[str, np.ndarray]],
    class_names: Sequence[str] = LLP_CLASSES,
) -> Path:
    """One panel per video and modality: ground truth and each model's predicted events.

    ``ground_truth`` maps ``"audio"`` / ``"visual"`` to (N, C, T) arrays; ``predictions`` maps a
    model name to the same. Each class with an event anywhere gets one row per source, so missed
    and spurious segments line up under the ground truth.
    """
    sources = ["ground truth", *predictions]
    palette = plt.get_cmap("tab10")
    colors = ["black", *(palette(i) for i in range(len(predictions)))]
    n = len(names)
    fig, axes = plt.subplots(n, 2, figsize=(13, 1.1 + 1.6 * n), squeeze=False)
    for i, name in enumerate(names):
        for j, modality in enumerate(("audio", "visual")):
            ax = axes[i, j]
            arrays = [ground_truth[modality][i]] + [
                predictions[m][modality][i] for m in predictions
            ]
            classes = _active_classes(arrays)
            height = 0.8 / len(sources)
            for row, c in enumerate(classes):
                for s, (source, color) in enumerate(zip(sources, colors, strict=True)):
                    on = np.flatnonzero(np.asarray(arrays[s][c]).astype(bool))
                    y = row + (len(sources) - 1 - s) * height  # ground truth on top
                    ax.broken_barh(
                        [(int(t), 1) for t in on], (y, height * 0.9), color=color, label=source
                    )
            ax.set_yticks([r + 0.4 for r in range(len(classes))])
            ax.set_yticklabels([class_names[c] for c in classes], fontsize=8)
            ax.set_xlim(0, arrays[0].shape[1])
            ax.set_ylim(-0.1, len(classes))
            ax.set_xticks(range(arrays[0].shape[1] + 1))
            ax.grid(axis="x", alpha=0.3)
            ax.set_title(f"{name} -- {modality}", fontsize=9)
            if i == n - 1:
                ax.set_xlabel("second")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors]
    fig.legend(handles, sources, loc="upper center", ncol=len(sources), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_attention(
    path: Path,
    *,
    name: str,
    attention: Mapping[str, np.ndarray],
    ground_truth: Mapping[str, np.ndarray] | None = None,
    class_names: Sequence[str] = LLP_CLASSES,
) -> Path:
    """LEAP's label-to-segment attention (C, T) per modality, as in the paper's qualitative figures.

    Ground-truth segments, when given, are outlined so the attention can be read against them.
    """
    modalities = [m for m in ("audio", "visual") if m in attention]
    fig, axes = plt.subplots(1, len(modalities), figsize=(6.5 * len(modalities), 7), squeeze=False)
    for ax, modality in zip(axes[0], modalities, strict=True):
        weights = np.asarray(attention[modality])
        image = ax.imshow(weights, aspect="auto", cmap="viridis", interpolation="nearest")
        if ground_truth is not None:
            rows, cols = np.nonzero(np.asarray(ground_truth[modality]).astype(bool))
            for r, c in zip(rows, cols, strict=True):
                ax.add_patch(
                    plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="red", lw=1.5)
                )
        ax.set_yticks(range(len(class_names)))
        ax.set_yticklabels(class_names, fontsize=7)
        ax.set_xticks(range(weights.shape[1]))
        ax.set_xlabel("segment (second)")
        ax.set_title(f"{name}: {modality} label-to-segment attention", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

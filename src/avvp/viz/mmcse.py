"""MM-CSE interpretability figures: decoupled class-wise feature similarity, learned co-occurrence.

Both functions read ``ParsingOutput.extras`` of an MM-CSE model (:mod:`avvp.models.mmcse`; a batch,
any device, with or without grad) and write one PNG for video ``index`` of that batch. They
build :class:`matplotlib.figure.Figure` objects directly (Agg canvas), so they neither need
nor change a pyplot backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

from avvp.classes import LLP_CLASSES
from avvp.errors import ConfigError, DataError

BACKGROUND = "Background"


def _get(extras: Mapping[str, Tensor], key: str, why: str) -> Tensor:
    if key not in extras:
        raise ConfigError(
            f"MM-CSE figure: output extras have no {key!r} ({why}); "
            f"available: {', '.join(sorted(extras)) or 'none'}"
        )
    return extras[key]


def _select(x: Tensor, index: int, segment: int | None, key: str) -> Tensor:
    """(B, T, ...) -> (...) averaged over T, or at one segment; float64 on CPU."""
    if not -x.shape[0] <= index < x.shape[0]:
        raise DataError(
            f"MM-CSE figure: video index {index} out of range for batch of {x.shape[0]}"
        )
    x = x[index].detach().to("cpu", torch.float64)
    if segment is None:
        return x.mean(dim=0)
    if not -x.shape[0] <= segment < x.shape[0]:
        raise DataError(f"MM-CSE figure: segment {segment} out of range for {key} ({x.shape[0]})")
    return x[segment]


def _heatmap(
    fig: Figure,
    ax: Axes,
    matrix: np.ndarray,
    *,
    rows: Sequence[str],
    cols: Sequence[str],
    title: str,
    vmin: float | None,
    vmax: float | None,
    cmap: str,
) -> None:
    image = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks(range(len(cols)), labels=cols, rotation=90, fontsize=7)
    ax.set_yticks(range(len(rows)), labels=rows, fontsize=7)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


def _save(fig: Figure, path: str | Path, dpi: int) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def decoupled_similarity(
    output_extras: Mapping[str, Tensor], index: int, *, segment: int | None = None
) -> dict[str, np.ndarray]:
    """Cosine similarity between the C event-specific and the background CAFD features.

    Returns ``{"audio": (C+1, C+1), "visual": (C+1, C+1)}`` (background last): per segment, or
    averaged over the segments' similarity maps when ``segment`` is None.
    """
    result = {}
    for modality in ("audio", "visual"):
        why = "the model was built with use_cafd=False"
        events = _get(output_extras, f"class_features_{modality}", why)
        background = _get(output_extras, f"background_{modality}", why)
        feats = torch.cat((events, background.unsqueeze(-2)), dim=-2)  # (B, T, C+1, D)
        feats = F.normalize(feats.detach().to(torch.float64), dim=-1)
        sim = feats @ feats.transpose(-1, -2)
        result[modality] = _select(sim, index, segment, f"class_features_{modality}").numpy()
    return result


def plot_decoupled_similarity(
    output_extras: Mapping[str, Tensor],
    index: int,
    path: str | Path,
    *,
    segment: int | None = None,
    class_names: Sequence[str] = LLP_CLASSES,
    title: str | None = None,
    dpi: int = 110,
) -> Path:
    """Class-wise decoupled feature similarity maps (audio | visual) for one video, as a PNG.

    Well-decoupled features show a dominant diagonal: each class feature is dissimilar to the
    other classes' and to the background feature.
    """
    sims = decoupled_similarity(output_extras, index, segment=segment)
    labels = [*class_names, BACKGROUND]
    if len(labels) != sims["audio"].shape[0]:
        raise ConfigError(
            f"MM-CSE figure: {len(class_names)} class names for "
            f"{sims['audio'].shape[0] - 1} classes"
        )
    fig = Figure(figsize=(18, 8), layout="constrained")
    axes = fig.subplots(1, 2)
    where = "mean over segments" if segment is None else f"segment {segment}"
    for ax, modality in zip(axes, ("audio", "visual"), strict=True):
        _heatmap(
            fig,
            ax,
            sims[modality],
            rows=labels,
            cols=labels,
            title=f"{modality} class-wise feature cosine similarity ({where})",
            vmin=-1.0 if sims[modality].min() < 0 else 0.0,
            vmax=1.0,
            cmap="viridis",
        )
    fig.suptitle(title or f"MM-CSE decoupled features, video {index}")
    return _save(fig, path, dpi)


def plot_cooccurrence(
    output_extras: Mapping[str, Tensor],
    index: int,
    path: str | Path,
    *,
    segment: int | None = None,
    class_names: Sequence[str] = LLP_CLASSES,
    targets: Mapping[str, Tensor] | None = None,
    title: str | None = None,
    dpi: int = 110,
) -> Path:
    """Learned segment-wise class co-occurrence (last-layer head-averaged SECM attention).

    Four panels aa, vv, av (audio classes attending to visual classes), va; averaged over the
    segments, or at one ``segment``. ``targets`` (e.g. from
    :func:`avvp.losses.mmcse.cooccurrence_targets`) adds a second row with the pseudo-label
    co-occurrence maps that L_ec pulls the attention towards.
    """
    pairs = ("aa", "vv", "av", "va")
    names = {"a": "audio", "v": "visual"}
    maps = {
        p: _select(
            _get(output_extras, f"cooccurrence_{p}", "the model was built with use_secm=False"),
            index,
            segment,
            f"cooccurrence_{p}",
        ).numpy()
        for p in pairs
    }
    if len(class_names) != maps["aa"].shape[0]:
        raise ConfigError(
            f"MM-CSE figure: {len(class_names)} class names for {maps['aa'].shape[0]} classes"
        )
    nrows = 1 if targets is None else 2
    fig = Figure(figsize=(32, 8 * nrows), layout="constrained")
    axes = np.asarray(fig.subplots(nrows, 4)).reshape(nrows, 4)
    where = "mean over segments" if segment is None else f"segment {segment}"
    for col, p in enumerate(pairs):
        _heatmap(
            fig,
            axes[0, col],
            maps[p],
            rows=[f"{c} ({names[p[0]]})" for c in class_names],
            cols=list(class_names),
            title=f"SECM attention {names[p[0]]} -> {names[p[1]]} ({where})",
            vmin=0.0,
            vmax=None,
            cmap="magma",
        )
        if targets is not None:
            if p not in targets:
                raise ConfigError(f"MM-CSE figure: targets have no {p!r} map")
            _heatmap(
                fig,
                axes[1, col],
                _select(targets[p], index, segment, f"targets[{p!r}]").numpy(),
                rows=list(class_names),
                cols=list(class_names),
                title=f"pseudo-label co-occurrence {p} ({where})",
                vmin=0.0,
                vmax=1.0,
                cmap="Greys",
            )
    fig.suptitle(title or f"MM-CSE learned class co-occurrence, video {index}")
    return _save(fig, path, dpi)

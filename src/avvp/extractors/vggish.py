"""VGGish audio embeddings (128-d per segment), as used for LLP's ``feats/vggish``.

Front end: the reference ``vggish_input`` / ``mel_features`` log-mel computation (16 kHz mono,
25 ms periodic-Hann windows, 10 ms hop, 512-point FFT magnitude, 64 HTK-mel bands 125-7500 Hz with
the DC bin dropped, ``log(mel + 0.01)``), framed into 0.96 s examples of 96 x 64.

Network: the VGG of the PyTorch port (harritaylor/torchvggish key names ``features.{0,3,6,8,11,13}``
and ``embeddings.{0,2,4}``), 72,141,184 parameters, ReLU on the 128-d output as in that port.

Post-processing (optional, given the published PCA parameters ``pca_eigen_vectors`` (128, 128) and
``pca_means`` (128,)): PCA, clip to [-2, 2], quantise to 0..255, as the released AudioSet
embeddings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from avvp.errors import DataError
from avvp.extractors.base import batched, load_state_dict_file, load_weights
from avvp.video.decode import DecodedVideo

SAMPLE_RATE = 16000
STFT_WINDOW_SECONDS = 0.025
STFT_HOP_SECONDS = 0.010
NUM_MEL_BINS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_WINDOW_SECONDS = 0.96
EXAMPLE_HOP_SECONDS = 0.96
EMBEDDING_SIZE = 128
QUANTIZE_MIN = -2.0
QUANTIZE_MAX = 2.0

Alignment = Literal["reference", "segment"]


def frame_signal(data: np.ndarray, *, window: int, hop: int) -> np.ndarray:
    """Split the first axis into ``1 + (len - window) // hop`` overlapping frames (no padding)."""
    count = 1 + (data.shape[0] - window) // hop
    if count < 1:
        return np.zeros((0, window, *data.shape[1:]), dtype=data.dtype)
    shape = (count, window, *data.shape[1:])
    strides = (data.strides[0] * hop, *data.strides)
    return np.lib.stride_tricks.as_strided(data, shape=shape, strides=strides, writeable=False)


def periodic_hann(length: int) -> np.ndarray:
    """The "periodic" Hann window (the one TF and the reference use), not the symmetric one."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi / length * np.arange(length))


def hertz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: 1127 ln(1 + f / 700)."""
    return 1127.0 * np.log(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_matrix(
    *,
    num_mel_bins: int = NUM_MEL_BINS,
    num_spectrogram_bins: int = 257,
    sample_rate: int = SAMPLE_RATE,
    lower_hz: float = MEL_MIN_HZ,
    upper_hz: float = MEL_MAX_HZ,
) -> np.ndarray:
    """(num_spectrogram_bins, num_mel_bins) triangular weights in the mel domain; DC row zero."""
    bins_mel = hertz_to_mel(np.linspace(0.0, sample_rate / 2.0, num_spectrogram_bins))
    edges = np.linspace(hertz_to_mel(lower_hz), hertz_to_mel(upper_hz), num_mel_bins + 2)
    weights = np.empty((num_spectrogram_bins, num_mel_bins))
    for i in range(num_mel_bins):
        low, center, high = edges[i : i + 3]
        rising = (bins_mel - low) / (center - low)
        falling = (high - bins_mel) / (high - center)
        weights[:, i] = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


def log_mel_spectrogram(waveform: np.ndarray, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(frames, 64) log-mel of a mono waveform, frames = 1 + (len - 400) // 160 at 16 kHz."""
    window = round(sample_rate * STFT_WINDOW_SECONDS)
    hop = round(sample_rate * STFT_HOP_SECONDS)
    fft_length = 2 ** int(np.ceil(np.log2(window)))
    frames = frame_signal(np.asarray(waveform, dtype=np.float64), window=window, hop=hop)
    spectrum = np.abs(np.fft.rfft(frames * periodic_hann(window), fft_length))
    mel = spectrum @ mel_matrix(num_spectrogram_bins=spectrum.shape[1], sample_rate=sample_rate)
    return np.log(mel + LOG_OFFSET)


def waveform_to_examples(
    waveform: np.ndarray,
    *,
    sample_rate: int = SAMPLE_RATE,
    num_examples: int | None = None,
    align: Alignment = "reference",
) -> np.ndarray:
    """(N, 96, 64) float32 log-mel examples of a 16 kHz mono waveform.

    ``align="reference"`` frames the log-mel with the reference 0.96 s hop (examples start at
    0, 0.96, 1.92, ... s: exactly the LLP features for 10 s clips; for long videos example t
    starts 0.04 t s before segment t). ``align="segment"`` takes one example at the start of every
    whole second, so example t always lies inside segment t. ``num_examples`` keeps the first N.
    """
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"VGGish needs {SAMPLE_RATE} Hz audio, got {sample_rate}")
    log_mel = log_mel_spectrogram(waveform, sample_rate=sample_rate)
    per_second = round(1.0 / STFT_HOP_SECONDS)
    window = round(EXAMPLE_WINDOW_SECONDS * per_second)
    if align == "reference":
        hop = round(EXAMPLE_HOP_SECONDS * per_second)
        examples = frame_signal(log_mel, window=window, hop=hop)
    else:
        starts = range(0, log_mel.shape[0] - window + 1, per_second)
        examples = (
            np.stack([log_mel[s : s + window] for s in starts])
            if len(starts)
            else (np.zeros((0, window, NUM_MEL_BINS)))
        )
    if num_examples is not None:
        if examples.shape[0] < num_examples:
            raise ValueError(f"waveform gives {examples.shape[0]} examples, {num_examples} needed")
        examples = examples[:num_examples]
    return np.ascontiguousarray(examples, dtype=np.float32)


class VGGish(nn.Module):
    """The VGGish network: (N, 1, 96, 64) log-mel examples -> (N, 128) embeddings."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for spec in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if spec == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                assert isinstance(spec, int)
                layers += [
                    nn.Conv2d(channels, spec, kernel_size=3, padding=1),
                    nn.ReLU(inplace=True),
                ]
                channels = spec
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, EMBEDDING_SIZE),
            nn.ReLU(inplace=True),
        )

    def forward(self, examples: Tensor) -> Tensor:
        x = self.features(examples)  # (N, 512, 6, 4)
        # The TF original flattens channels-last (N, 6, 4, 512); the embedding weights expect it.
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        return self.embeddings(x)


class VGGishPostprocessor(nn.Module):
    """PCA (with whitening), clipping to [-2, 2] and 8-bit quantisation of VGGish embeddings."""

    def __init__(self, *, pca_matrix: Tensor, pca_means: Tensor) -> None:
        super().__init__()
        if tuple(pca_matrix.shape) != (EMBEDDING_SIZE, EMBEDDING_SIZE):
            raise ValueError(f"PCA matrix must be (128, 128), got {tuple(pca_matrix.shape)}")
        self.register_buffer("pca_matrix", pca_matrix.float())
        self.register_buffer("pca_means", pca_means.float().reshape(EMBEDDING_SIZE, 1))

    pca_matrix: Tensor
    pca_means: Tensor

    def forward(self, embeddings: Tensor) -> Tensor:
        projected = (self.pca_matrix @ (embeddings.T - self.pca_means)).T
        clipped = projected.clamp(QUANTIZE_MIN, QUANTIZE_MAX)
        return torch.round((clipped - QUANTIZE_MIN) * (255.0 / (QUANTIZE_MAX - QUANTIZE_MIN)))


def load_pca_params(path: str | Path) -> VGGishPostprocessor:
    """Read the published PCA parameters (``pca_eigen_vectors``, ``pca_means``; .pth or .npz)."""
    path = Path(path)
    if path.suffix == ".npz":
        try:
            with np.load(path) as data:
                params = {k: torch.from_numpy(data[k]) for k in data.files}
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read PCA parameters ({exc})") from None
    else:
        params = load_state_dict_file(path)
    try:
        return VGGishPostprocessor(
            pca_matrix=params["pca_eigen_vectors"], pca_means=params["pca_means"]
        )
    except KeyError as exc:
        raise DataError(f"{path}: PCA parameters lack key {exc}") from None
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None


class VGGishExtractor:
    """(T, 128) VGGish features of a decoded video, one example per segment."""

    name = "vggish"
    key = "audio"
    folder = "feats/vggish"

    def __init__(
        self,
        *,
        model: VGGish,
        postprocessor: VGGishPostprocessor | None = None,
        align: Alignment = "reference",
        batch_size: int = 64,
    ) -> None:
        self.model = model.eval()
        self.postprocessor = postprocessor
        self.align = align
        self.batch_size = batch_size

    def extract(self, video: DecodedVideo) -> np.ndarray:
        examples = waveform_to_examples(
            video.audio,
            sample_rate=video.sample_rate,
            num_examples=video.num_segments,
            align=self.align,
        )
        embeddings = batched(
            self.model, torch.from_numpy(examples).unsqueeze(1), batch_size=self.batch_size
        )
        if self.postprocessor is not None:
            embeddings = self.postprocessor(embeddings)
        return embeddings.numpy().astype(np.float32)


def build_vggish_extractor(
    *,
    weights: str | Path | None = None,
    pca_params: str | Path | None = None,
    align: Alignment = "reference",
) -> VGGishExtractor:
    """VGGish extractor; random weights when ``weights`` is None (for tests and timing)."""
    model = VGGish()
    if weights is not None:
        state = load_state_dict_file(weights)
        # Some exports of the port carry the PCA parameters inside the model's state dict.
        load_weights(model, state, source=weights, ignore_prefixes=("pproc.",))
    post = load_pca_params(pca_params) if pca_params is not None else None
    return VGGishExtractor(model=model, postprocessor=post, align=align)

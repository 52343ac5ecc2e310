"""VGGish log-mel front end and post-processing, checked against the reference's definitions."""

from __future__ import annotations

import numpy as np
import torch

from avvp.extractors.vggish import (
    VGGishPostprocessor,
    hertz_to_mel,
    log_mel_spectrogram,
    mel_matrix,
    periodic_hann,
    waveform_to_examples,
)


def test_mel_matrix_properties() -> None:
    matrix = mel_matrix()
    assert matrix.shape == (257, 64)
    assert not matrix[0].any()  # DC bin dropped
    bins_hz = np.linspace(0, 8000, 257)
    active = bins_hz[matrix.sum(axis=1) > 0]
    assert active.min() > 125.0 and active.max() < 7500.0
    assert matrix.max() <= 1.0
    # Band centres are evenly spaced in HTK mel between 125 and 7500 Hz.
    peaks = bins_hz[np.argmax(matrix, axis=0)]
    assert np.all(np.diff(peaks) >= 0)
    assert abs(float(hertz_to_mel(700.0)) - 1127.0 * np.log(2.0)) < 1e-9


def test_periodic_hann() -> None:
    window = periodic_hann(400)
    assert window[0] == 0.0 and abs(window[200] - 1.0) < 1e-12 and window[-1] > 0


def test_log_mel_matches_direct_dft() -> None:
    rng = np.random.default_rng(0)
    wave = rng.standard_normal(16000) * 0.1
    log_mel = log_mel_spectrogram(wave)
    assert log_mel.shape == (1 + (16000 - 400) // 160, 64)
    # Frame 7 by a direct (non-FFT) DFT of the zero-padded windowed frame.
    frame = np.zeros(512)
    frame[:400] = wave[7 * 160 : 7 * 160 + 400] * periodic_hann(400)
    n = np.arange(512)
    k = np.arange(257)[:, None]
    magnitude = np.abs(np.exp(-2j * np.pi * k * n / 512) @ frame)
    expected = np.log(magnitude @ mel_matrix() + 0.01)
    np.testing.assert_allclose(log_mel[7], expected, rtol=1e-6, atol=1e-6)


def test_examples_for_a_ten_second_clip() -> None:
    wave = np.zeros(160000, dtype=np.float32)
    examples = waveform_to_examples(wave)
    assert examples.shape == (10, 96, 64)
    np.testing.assert_allclose(examples, np.log(0.01), rtol=1e-6)
    # A minute of audio: reference framing gives more 0.96 s examples than seconds,
    # segment alignment one per second.
    minute = np.zeros(16000 * 60, dtype=np.float32)
    assert waveform_to_examples(minute).shape[0] == 62
    assert waveform_to_examples(minute, align="segment").shape[0] == 60
    assert waveform_to_examples(minute, num_examples=60).shape[0] == 60


def test_segment_alignment_starts_each_example_on_the_second() -> None:
    wave = np.zeros(16000 * 30, dtype=np.float32)
    wave[16000 * 25 : 16000 * 25 + 4000] = 0.5  # a burst in the first quarter of second 25
    examples = waveform_to_examples(wave, align="segment")
    energy = examples.mean(axis=(1, 2))
    assert int(np.argmax(energy)) == 25


def test_postprocessor_pca_clip_quantize() -> None:
    post = VGGishPostprocessor(pca_matrix=torch.eye(128), pca_means=torch.zeros(128))
    emb = torch.zeros(3, 128)
    emb[0, 0], emb[1, 0], emb[2, 0] = -5.0, 0.0, 1.0
    out = post(emb)
    assert out[0, 0] == 0.0 and out[1, 0] == 128.0 and out[2, 0] == 191.0  # round((x+2)*63.75)
    assert out.min() >= 0 and out.max() <= 255

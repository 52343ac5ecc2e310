"""avvp.training.describe: counts and FLOPs of a config's model without data (avvp info)."""

from __future__ import annotations

from avvp.classes import NUM_CLASSES, NUM_SEGMENTS
from avvp.config import load_config, to_container
from avvp.data.features import resolve_specs
from avvp.tasks import build_task
from avvp.training.describe import describe, example_batch, shape_only_config


def test_example_batch_has_the_official_shapes() -> None:
    batch = example_batch(["audio", "frames", "clips"], batch_size=2)
    for spec in resolve_specs(["audio", "frames", "clips"]):
        assert tuple(batch[spec.key].shape) == (2, *spec.shape)
    assert tuple(batch["label"].shape) == (2, NUM_CLASSES)
    assert tuple(batch["pseudo_audio"].shape) == (2, NUM_SEGMENTS, NUM_CLASSES)
    again = example_batch(["audio", "frames", "clips"], batch_size=2)
    assert all(bool((batch[k] == again[k]).all()) for k in batch)  # seeded


def test_shape_only_config_needs_no_embedding_file_and_keeps_the_original() -> None:
    cfg = load_config("mmpyr_leap")
    shaped = shape_only_config(cfg)
    assert to_container(cfg) == to_container(load_config("mmpyr_leap"))
    assert shaped.model.decoder.label_embeddings != cfg.model.decoder.label_embeddings
    assert shaped.model.decoder.label_embeddings.source != "release"
    build_task(shaped, data_root=None).build_model()  # from the placeholder, without a file


def test_describe_counts_the_live_parameters_of_the_model() -> None:
    cfg = load_config("smoke")
    info = describe(cfg, flops=True)
    assert info["name"] == "smoke" and info["model"] == to_container(cfg)["model"]
    model = build_task(cfg, data_root=None).build_model()
    registered = sum(p.numel() for p in model.parameters())
    assert 0 < info["params"]["total"] <= registered
    assert info["params"]["trainable"] == info["params"]["total"]
    assert all(v > 0 for v in info["flops_per_video"].values())
    assert "flops_per_video" not in describe(cfg, flops=False)

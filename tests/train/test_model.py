import pytest
import torch

from arxiv2lm.params import ModelOverrides
from arxiv2lm.train.model import (
    GPT,
    PRESETS,
    count_params,
    flops_per_token,
    resolve_model_config,
)

SMALL = ModelOverrides(n_layer=2, n_head=2, d_model=32, d_ff=64, seq_len=16)


def model(**kw: object) -> GPT:
    torch.manual_seed(0)
    return GPT(resolve_model_config("tiny", SMALL, vocab_size=97), **kw)


def test_logits_shape_and_loss_near_log_vocab_at_init():
    m = model()
    idx = torch.randint(0, 97, (3, 16))
    assert m(idx).shape == (3, 16, 97)
    loss = m(idx[:, :-1], idx[:, 1:])
    assert loss.shape == ()
    assert abs(loss.item() - torch.log(torch.tensor(97.0)).item()) < 0.5


def test_changing_a_future_token_never_changes_earlier_logits():
    m = model().eval()
    idx = torch.randint(0, 97, (2, 16))
    changed = idx.clone()
    changed[:, 9] = (changed[:, 9] + 1) % 97
    a, b = m(idx), m(changed)
    assert torch.equal(a[:, :9], b[:, :9])
    assert not torch.allclose(a[:, 9:], b[:, 9:])


def test_tied_embeddings_and_param_count():
    m = model()
    assert m.head.weight is m.embed.weight
    assert m.num_params() == count_params(m.cfg)
    assert not any("bias" in n for n, _ in m.named_parameters())


def test_activation_checkpointing_gives_the_same_gradients():
    idx = torch.randint(0, 97, (2, 16))
    grads = []
    for ac in (False, True):
        m = model(activation_checkpointing=ac)
        m(idx[:, :-1], idx[:, 1:]).backward()
        grads.append(m.embed.weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_too_long_sequence_is_rejected():
    with pytest.raises(ValueError, match="exceeds"):
        model()(torch.zeros(1, 17, dtype=torch.long))


def test_presets_and_overrides():
    paper = resolve_model_config("paper-1.36b", ModelOverrides(), vocab_size=102400)
    assert (paper.n_layer, paper.d_model, paper.n_head, paper.d_ff) == (24, 2048, 16, 5504)
    assert 1.3e9 < count_params(paper) < 1.5e9
    small = resolve_model_config("small", ModelOverrides(), vocab_size=32768)
    assert 100e6 < count_params(small) < 120e6
    tiny = resolve_model_config("tiny", ModelOverrides(n_layer=3, dropout=0.1), vocab_size=10)
    assert (tiny.n_layer, tiny.dropout, tiny.d_model) == (3, 0.1, PRESETS["tiny"].d_model)


@pytest.mark.parametrize(
    ("preset", "overrides", "message"),
    [
        ("huge", ModelOverrides(), "unknown model preset 'huge'"),
        ("tiny", ModelOverrides(n_head=3), "d_model 128 is not divisible by n_head 3"),
        ("tiny", ModelOverrides(d_model=96, n_head=32), "must be even"),
        ("tiny", ModelOverrides(dropout=1.5), "dropout"),
    ],
)
def test_bad_configs_are_rejected_with_the_value(preset, overrides, message):
    with pytest.raises(ValueError, match=message):
        resolve_model_config(preset, overrides, vocab_size=100)


def test_flops_per_token_is_6n_plus_attention():
    cfg = resolve_model_config("tiny", ModelOverrides(), vocab_size=4096)
    n = count_params(cfg)
    assert flops_per_token(cfg, 128) == 6 * n + 12 * 4 * 128 * 128

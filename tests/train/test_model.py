import pytest
import torch
import torch.nn.functional as F

from arxiv2lm.params import ModelOverrides
from arxiv2lm.train.model import (
    GPT,
    PRESETS,
    chunked_cross_entropy,
    count_params,
    flops_per_token,
    resolve_model_config,
    rotary_table,
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


@pytest.mark.parametrize("chunk_rows", [1, 7, 16, 64])
def test_chunked_loss_and_its_gradients_equal_the_plain_cross_entropy(chunk_rows):
    torch.manual_seed(0)
    h = torch.randn(37, 16, requires_grad=True)
    w = torch.randn(50, 16, requires_grad=True)
    t = torch.randint(0, 50, (37,))
    loss = chunked_cross_entropy(h, w, t, chunk_rows=chunk_rows)
    (2.5 * loss).backward()  # a non-unit upstream gradient must scale dh and dW
    grads = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    ref = F.cross_entropy(h @ w.t(), t)
    (2.5 * ref).backward()
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(grads[0], h.grad)
    torch.testing.assert_close(grads[1], w.grad)
    with torch.no_grad():  # the eval path (no gradients made) gives the same loss
        torch.testing.assert_close(chunked_cross_entropy(h, w, t, chunk_rows=chunk_rows), ref)


def test_chunked_loss_in_bf16_stays_close_to_fp32():
    torch.manual_seed(0)
    h, w = torch.randn(64, 32), torch.randn(300, 32) * 0.3
    t = torch.randint(0, 300, (64,))
    hb, wb = h.bfloat16().requires_grad_(), w.bfloat16().requires_grad_()
    loss = chunked_cross_entropy(hb, wb, t, chunk_rows=16)
    loss.backward()
    assert loss.dtype == torch.float32 and hb.grad.dtype == wb.grad.dtype == torch.bfloat16
    hf, wf = hb.detach().float().requires_grad_(), wb.detach().float().requires_grad_()
    ref = F.cross_entropy(hf @ wf.t(), t)
    ref.backward()
    assert abs(loss.item() - ref.item()) < 1e-2
    torch.testing.assert_close(hb.grad.float(), hf.grad, atol=2e-3, rtol=2e-2)
    torch.testing.assert_close(wb.grad.float(), wf.grad, atol=2e-3, rtol=2e-2)


def test_model_loss_is_the_cross_entropy_of_its_logits():
    m = model()
    idx = torch.randint(0, 97, (3, 16))
    logits = m(idx[:, :-1])
    ref = F.cross_entropy(logits.flatten(0, 1), idx[:, 1:].flatten())
    torch.testing.assert_close(m(idx[:, :-1], idx[:, 1:]), ref)


def test_rotary_table_is_cached_in_fp32_outside_the_state_dict():
    m = model().bfloat16()
    m(torch.zeros(1, 8, dtype=torch.long))
    assert m._rope is not None and m._rope.dtype == torch.float32
    torch.testing.assert_close(m._rope, rotary_table(16, 16))
    assert not any("rope" in k for k in m.state_dict())


def test_old_separate_gate_and_up_weights_still_load():
    m = model().eval()
    old = {k: v for k, v in m.state_dict().items() if "gate_up" not in k}
    for i in range(m.cfg.n_layer):
        gate, up = m.state_dict()[f"blocks.{i}.mlp.gate_up.weight"].chunk(2)
        old[f"blocks.{i}.mlp.gate.weight"], old[f"blocks.{i}.mlp.up.weight"] = gate, up
    fresh = GPT(m.cfg).eval()
    fresh.load_state_dict(old, strict=True)
    idx = torch.randint(0, 97, (2, 16))
    assert torch.equal(fresh(idx), m(idx))


def test_compile_is_off_by_default_and_keeps_the_state_dict_keys():
    m = model()
    keys = list(m.state_dict())
    assert not any(b._compiled_call_impl for b in m.blocks)  # eager unless asked
    m.compile_blocks()  # lazy: nothing compiles until the first call
    assert all(b._compiled_call_impl for b in m.blocks)
    assert list(m.state_dict()) == keys
    assert not any("_orig_mod" in k for k in keys)


def test_selective_checkpointing_gives_the_same_gradients():
    idx = torch.randint(0, 97, (2, 16))
    grads = []
    for kw in ({}, {"activation_checkpointing": True, "checkpoint_every": 2}):
        m = model(**kw)
        m(idx[:, :-1], idx[:, 1:]).backward()
        grads.append(m.blocks[1].mlp.gate_up.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])
    with pytest.raises(ValueError, match="checkpoint_every 0"):
        model(checkpoint_every=0)

"""A LLaMA-style decoder: RMSNorm, rotary positions, SwiGLU, no biases, tied embeddings.

>>> cfg = resolve_model_config("tiny", ModelOverrides(), vocab_size=4096)
>>> model = GPT(cfg)
>>> model(torch.zeros(2, 16, dtype=torch.long)).shape
torch.Size([2, 16, 4096])
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from arxiv2lm.params import ModelOverrides


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    n_layer: int
    n_head: int
    d_model: int
    d_ff: int
    seq_len: int  # longest sequence (rotary table size)
    dropout: float = 0.0


# vocab_size 0 is a placeholder: the tokenizer's vocab always replaces it.
PRESETS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(0, n_layer=4, n_head=4, d_model=128, d_ff=352, seq_len=128),
    "small": ModelConfig(0, n_layer=12, n_head=12, d_model=768, d_ff=2048, seq_len=1024),
    # The paper's 1.36B model: 24 x 2048, SwiGLU 5504, 2048 context (vocab 102400 there).
    "paper-1.36b": ModelConfig(0, n_layer=24, n_head=16, d_model=2048, d_ff=5504, seq_len=2048),
}


def resolve_model_config(preset: str, overrides: ModelOverrides, vocab_size: int) -> ModelConfig:
    """The preset with every non-null override applied and the tokenizer's vocab size."""
    if preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r} (known: {', '.join(PRESETS)})")
    changes = {k: v for k, v in dataclasses.asdict(overrides).items() if v is not None}
    cfg = dataclasses.replace(PRESETS[preset], vocab_size=vocab_size, **changes)
    if cfg.d_model % cfg.n_head:
        raise ValueError(f"d_model {cfg.d_model} is not divisible by n_head {cfg.n_head}")
    if (cfg.d_model // cfg.n_head) % 2:
        raise ValueError(f"head size {cfg.d_model // cfg.n_head} must be even for rotary")
    if min(cfg.vocab_size, cfg.n_layer, cfg.d_ff, cfg.seq_len) <= 0:
        raise ValueError(f"model sizes must be positive: {cfg}")
    if not 0.0 <= cfg.dropout < 1.0:
        raise ValueError(f"dropout {cfg.dropout} must be in [0, 1)")
    return cfg


def count_params(cfg: ModelConfig) -> int:
    """Parameters of `GPT(cfg)` without building it (tied embedding counted once)."""
    d = cfg.d_model
    per_block = 4 * d * d + 3 * d * cfg.d_ff + 2 * d  # qkv + proj, SwiGLU, two norms
    return cfg.vocab_size * d + cfg.n_layer * per_block + d


def flops_per_token(cfg: ModelConfig, seq_len: int) -> float:
    """Training FLOPs per token: 6N for the matmuls plus 12*L*d*T for attention (PaLM, app. B).

    >>> flops_per_token(PRESETS["tiny"], 128) > 6 * count_params(PRESETS["tiny"])
    True
    """
    return 6.0 * count_params(cfg) + 12.0 * cfg.n_layer * cfg.d_model * seq_len


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return xf.type_as(x) * self.weight


def rotary_table(
    head_dim: int, seq_len: int, device: torch.device | None = None, base: float = 10000.0
) -> torch.Tensor:
    """cos/sin of the rotary angles in fp32, shape (seq_len, head_dim // 2, 2)."""
    dims = torch.arange(0, head_dim, 2, dtype=torch.float32, device=device)
    inv = 1.0 / base ** (dims / head_dim)
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float32, device=device), inv)
    return torch.stack([angles.cos(), angles.sin()], dim=-1)


def apply_rotary(x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[2i], x[2i+1]) of x (B, T, H, D) by the angles in table (T, D/2, 2).

    In fp32 (bf16 angles drift); under torch.compile this is one fused kernel.
    """
    x0, x1 = x.float().unflatten(-1, (-1, 2)).unbind(-1)  # (B, T, H, D/2) each
    cos, sin = table[:, None, :, 0], table[:, None, :, 1]  # (T, 1, D/2)
    out = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
    return out.flatten(-2).type_as(x)


# Logits per loss chunk: 2**28 is 512 MB in bf16 (2048 rows of a 102,400-entry vocab).
CE_CHUNK_LOGITS = 2**28


def _ce_chunk(
    logits: torch.Tensor, targets: torch.Tensor, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed CE of a (n, V) chunk in fp32, and scale * dCE/dlogits in the logits' dtype."""
    lf = logits.float()
    lse = torch.logsumexp(lf, dim=-1)  # (n,)
    loss = (lse - lf.gather(1, targets[:, None]).squeeze(1)).sum()
    grad = torch.exp(lf - lse[:, None])  # softmax
    grad.scatter_add_(1, targets[:, None], torch.full_like(lse[:, None], -1.0))
    return loss, (grad * scale).to(logits.dtype)


class _LinearCrossEntropy(torch.autograd.Function):
    """Mean CE of `h @ weight.T` over row chunks, the gradients computed in the same pass.

    No (N, V) logits tensor ever exists, in fp32 or otherwise: each chunk's logits are made
    in the weights' dtype, turned into loss and dlogits, and consumed by two matmuls into
    dh and dW right away (Liger's fused linear cross-entropy, without recomputing the head).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        h: torch.Tensor,
        weight: torch.Tensor,
        targets: torch.Tensor,
        chunk_rows: int,
        ce: Callable[..., tuple[torch.Tensor, torch.Tensor]],
    ) -> torch.Tensor:
        n = h.shape[0]
        loss = torch.zeros((), dtype=torch.float32, device=h.device)
        grad_h = torch.empty_like(h)
        # dW summed over chunks in fp32: bf16 sums of up to N/chunk_rows terms would round.
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
        for s in range(0, n, chunk_rows):
            hc = h[s : s + chunk_rows]  # (n_c, C)
            loss_c, dlogits = ce(hc @ weight.t(), targets[s : s + chunk_rows], 1.0 / n)
            loss += loss_c
            torch.mm(dlogits, weight, out=grad_h[s : s + chunk_rows])
            grad_w += dlogits.t() @ hc
        ctx.save_for_backward(grad_h, grad_w.to(weight.dtype))
        return loss / n

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, grad_loss: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        grad_h, grad_w = ctx.saved_tensors
        g = grad_loss.to(grad_h.dtype)
        return grad_h * g, grad_w * g, None, None, None


def chunked_cross_entropy(
    h: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    chunk_rows: int | None = None,
    ce: Callable[..., tuple[torch.Tensor, torch.Tensor]] = _ce_chunk,
) -> torch.Tensor:
    """`F.cross_entropy((h @ weight.T).float(), targets)` for h (N, C), weight (V, C), in chunks.

    >>> h, w, t = torch.randn(6, 4), torch.randn(10, 4), torch.randint(0, 10, (6,))
    >>> torch.allclose(chunked_cross_entropy(h, w, t, chunk_rows=4),
    ...                F.cross_entropy(h @ w.t(), t))
    True
    """
    if chunk_rows is None:
        chunk_rows = 1 << max(0, (CE_CHUNK_LOGITS // weight.shape[0]).bit_length() - 1)
    if torch.is_grad_enabled() and (h.requires_grad or weight.requires_grad):
        return _LinearCrossEntropy.apply(h, weight, targets, chunk_rows, ce)
    total = torch.zeros((), dtype=torch.float32, device=h.device)
    for s in range(0, h.shape[0], chunk_rows):
        logits = (h[s : s + chunk_rows] @ weight.t()).float()
        total += F.cross_entropy(logits, targets[s : s + chunk_rows], reduction="sum")
    return total / h.shape[0]


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        # (B, T, 3C) -> three (B, T, H, D) views; rotary in this layout, then (B, H, T, D)
        # views for SDPA, whose flash kernel takes the strides as they are (no copies).
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head).unbind(2)
        q, k = apply_rotary(q, rope), apply_rotary(k, rope)
        y = F.scaled_dot_product_attention(
            q.transpose(1, 2),
            k.transpose(1, 2),
            v.transpose(1, 2),
            is_causal=True,
            dropout_p=self.dropout if self.training else 0.0,
        )  # (B, H, T, D)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class SwiGLU(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.gate_up = nn.Linear(cfg.d_model, 2 * cfg.d_ff, bias=False)  # [gate; up], one GEMM
        self.down = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)  # (B, T, d_ff) each
        return self.down(F.silu(gate) * up)

    def _load_from_state_dict(  # type: ignore[override]
        self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        # Exports and checkpoints written before the fusion hold separate gate and up weights;
        # stacked they are exactly gate_up (and the same order in ZeRO's flat buffers).
        old = (prefix + "gate.weight", prefix + "up.weight")
        if all(k in state_dict for k in old):
            state_dict[prefix + "gate_up.weight"] = torch.cat([state_dict.pop(k) for k in old])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model)
        self.mlp = SwiGLU(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.attn_norm(x), rope))
        return x + self.drop(self.mlp(self.mlp_norm(x)))


class GPT(nn.Module):
    """Decoder-only LM: `model(idx)` gives logits (B, T, V), `model(idx, targets)` the mean CE."""

    def __init__(
        self, cfg: ModelConfig, activation_checkpointing: bool = False, checkpoint_every: int = 1
    ) -> None:
        super().__init__()
        if checkpoint_every < 1:
            raise ValueError(f"checkpoint_every {checkpoint_every} must be >= 1")
        self.cfg = cfg
        self.activation_checkpointing = activation_checkpointing
        # Checkpoint blocks 0, k, 2k, ... only (torchtitan's selective layer checkpointing):
        # memory between none and all, recompute 1/k of the full checkpointing's.
        self.checkpoint_every = checkpoint_every
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied
        # The fp32 rotary table, built once per device. A plain attribute, not a buffer: a
        # buffer would be cast to bf16 with the weights (DeepSpeed does), and bf16 angles are
        # visibly wrong beyond a few hundred positions.
        self._rope: torch.Tensor | None = None
        self._ce: Callable[..., tuple[torch.Tensor, torch.Tensor]] = _ce_chunk
        self.apply(self._init)
        # GPT-2 / nanoGPT: scale the residual projections by 1/sqrt(2 * n_layer).
        for name, p in self.named_parameters():
            if name.endswith(("proj.weight", "down.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        """Unique parameters (the tied embedding counted once)."""
        return sum(p.numel() for p in self.parameters())

    def compile_blocks(self) -> None:
        """torch.compile each block in place and the loss kernel; state_dict keys unchanged.

        The blocks share one compiled graph (same code and shapes); the head, loss loop and
        activation checkpointing stay eager around them.
        """
        for block in self.blocks:
            block.compile(dynamic=False)  # a new batch shape recompiles rather than goes symbolic
        self._ce = torch.compile(_ce_chunk)

    def rotary(self, seq_len: int, device: torch.device) -> torch.Tensor:
        """The cached fp32 table's first `seq_len` rows (seq_len, D/2, 2)."""
        if self._rope is None or self._rope.device != device:
            # inference_mode(False): a table first built during eval is reused by training.
            with torch.inference_mode(False), torch.no_grad():
                self._rope = rotary_table(
                    self.cfg.d_model // self.cfg.n_head, self.cfg.seq_len, device
                )
        return self._rope[:seq_len]

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        T = idx.shape[1]
        if self.cfg.seq_len < T:
            raise ValueError(f"sequence length {T} exceeds the model's seq_len {self.cfg.seq_len}")
        rope = self.rotary(T, idx.device)
        x = self.drop(self.embed(idx))  # (B, T, C)
        for i, block in enumerate(self.blocks):
            if self.activation_checkpointing and self.training and i % self.checkpoint_every == 0:
                x = checkpoint(block, x, rope, use_reentrant=False)
            else:
                x = block(x, rope)
        h = self.norm(x)  # (B, T, C)
        if targets is None:
            return self.head(h)  # (B, T, V)
        # Mean next-token cross-entropy in fp32, without (B*T, V) logits (see the function).
        return chunked_cross_entropy(
            h.flatten(0, 1), self.head.weight, targets.flatten(), ce=self._ce
        )

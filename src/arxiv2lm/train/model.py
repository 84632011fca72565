"""A LLaMA-style decoder: RMSNorm, rotary positions, SwiGLU, no biases, tied embeddings.

>>> cfg = resolve_model_config("tiny", ModelOverrides(), vocab_size=4096)
>>> model = GPT(cfg)
>>> model(torch.zeros(2, 16, dtype=torch.long)).shape
torch.Size([2, 16, 4096])
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

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
    """Rotate pairs (x[2i], x[2i+1]) of x (B, H, T, D) by the angles in table (T, D/2, 2)."""
    xs = x.float().unflatten(-1, (-1, 2))  # (B, H, T, D/2, 2)
    cos, sin = table[..., 0], table[..., 1]  # (T, D/2)
    x0, x1 = xs[..., 0], xs[..., 1]
    out = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
    return out.flatten(-2).type_as(x)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, H, T, D)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        q, k = apply_rotary(q, rope), apply_rotary(k, rope)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class SwiGLU(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.gate = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.up = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.down = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


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

    def __init__(self, cfg: ModelConfig, activation_checkpointing: bool = False) -> None:
        super().__init__()
        self.cfg = cfg
        self.activation_checkpointing = activation_checkpointing
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied
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

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        T = idx.shape[1]
        if self.cfg.seq_len < T:
            raise ValueError(f"sequence length {T} exceeds the model's seq_len {self.cfg.seq_len}")
        # Rebuilt per call (cheap) rather than a buffer: a buffer would be cast to bf16 with
        # the weights, and bf16 angles are visibly wrong beyond a few hundred positions.
        rope = rotary_table(self.cfg.d_model // self.cfg.n_head, T, idx.device)
        x = self.drop(self.embed(idx))  # (B, T, C)
        for block in self.blocks:
            if self.activation_checkpointing and self.training:
                x = checkpoint(block, x, rope, use_reentrant=False)
            else:
                x = block(x, rope)
        logits = self.head(self.norm(x))  # (B, T, V)
        if targets is None:
            return logits
        # Mean next-token cross-entropy, computed in fp32.
        return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())

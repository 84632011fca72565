"""The DeepSpeed configuration, generated from params (never a second hand-kept file).

Pure functions: no DeepSpeed import here, so the config can be built and tested anywhere.

>>> deepspeed_config(params, recipe, False)["zero_optimization"]["stage"]  # doctest: +SKIP
2
"""

from __future__ import annotations

import re
from typing import Any

import torch

from arxiv2lm.params import PretrainParams
from arxiv2lm.train.recipe import Recipe

ADAM_BETAS = (0.9, 0.95)

_ARCH_SUFFIX = re.compile(r"^(\d+\.\d+)[a-z]+")  # "9.0a", "10.0f": arch-specific variants


# ZeRO-2 communication buckets, in elements: smaller than DeepSpeed's 5e8 default so the
# reduce of one bucket overlaps the backward of the next (Megatron-DeepSpeed uses ~2e8).
BUCKET_ELEMENTS = 200_000_000


def deepspeed_config(params: PretrainParams, recipe: Recipe, on_gpu: bool) -> dict[str, Any]:
    """The DeepSpeed JSON, generated from params (the LR is set by our schedule each step).

    Gradients accumulate and reduce in fp32 (`data_types.grad_accum_dtype`): bf16 sums of
    dozens of micro-batches lose the low bits of small gradients.

    >>> deepspeed_config(params, recipe, False)["zero_optimization"]["stage"]  # doctest: +SKIP
    2
    """
    if params.zero_stage not in (0, 1, 2):
        raise ValueError(f"zero_stage {params.zero_stage}: the export supports ZeRO 0, 1 or 2")
    cfg: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": recipe.micro_batch,
        "gradient_accumulation_steps": recipe.grad_accum,
        "train_batch_size": recipe.global_batch,
        "gradient_clipping": params.grad_clip,
        "bf16": {"enabled": params.bf16},
        "data_types": {"grad_accum_dtype": "fp32"},
        "zero_optimization": {
            "stage": params.zero_stage,
            "contiguous_gradients": on_gpu,
            "overlap_comm": on_gpu,  # CUDA streams; nothing to overlap on CPU
            "reduce_bucket_size": BUCKET_ELEMENTS,
            "allgather_bucket_size": BUCKET_ELEMENTS,
        },
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    if on_gpu and params.optimizer == "ds_fused_adam":
        cfg["optimizer"] = {
            "type": "Adam",  # FusedAdam, JIT-built at start: needs nvcc and ninja on the host
            "params": {
                "lr": recipe.lr,
                "betas": list(ADAM_BETAS),
                "eps": 1e-8,
                "weight_decay": params.weight_decay,
                "adam_w_mode": True,
            },
        }
    else:
        # A client torch AdamW (fused on GPU; DeepSpeed's CPU Adam op compiles for minutes).
        cfg["zero_force_ds_cpu_optimizer"] = False
    return cfg


def client_optimizer(
    params: PretrainParams, groups: list[dict[str, Any]], lr: float, on_gpu: bool
) -> torch.optim.Optimizer | None:
    """torch's AdamW for DeepSpeed's client-optimizer path, or None for its FusedAdam."""
    if on_gpu and params.optimizer == "ds_fused_adam":
        return None
    return torch.optim.AdamW(groups, lr=lr, betas=ADAM_BETAS, eps=1e-8, fused=on_gpu)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decay matrices only (nanoGPT): norms' gains stay undecayed."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def deepspeed_arch_list(value: str) -> str:
    """TORCH_CUDA_ARCH_LIST as DeepSpeed's JIT builder can read it: no arch-specific suffixes.

    DeepSpeed 0.19.8 parses each entry as integers, so the "9.0a" that CUDA images set fails
    FusedAdam's build with `invalid literal for int() with base 10: '0a'`; "9.0" runs on H100.

    >>> deepspeed_arch_list("8.0;9.0a 10.0+PTX")
    '8.0;9.0;10.0+PTX'
    """
    return ";".join(_ARCH_SUFFIX.sub(r"\1", cc) for cc in value.replace(" ", ";").split(";") if cc)

"""Run under `torchrun --nproc_per_node 2` by test_engine: a ZeRO-2 run on CPU with gloo.

    python -m torch.distributed.run --nproc_per_node 2 tests/train/zero2_worker.py DATA OUT

Each rank writes OUT/rank<r>.json: its losses and the size of its fp32 optimizer partition.
"""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import tiny_params  # noqa: E402

from arxiv2lm.train.engine import train  # noqa: E402


def main() -> None:
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    torch.set_num_threads(1)  # two ranks on a two-core machine
    params = tiny_params(max_steps=30, checkpoint_every=30, eval_every=30, micro_batch=4)
    s = train(
        params, data / "shard", data / "tokenizer", out / "ckpt", out / "export", out / "live"
    )
    engine = s["engine"]
    partition = sum(t.numel() for t in engine.optimizer.single_partition_of_fp32_groups)
    result = {k: s[k] for k in ("rank", "world_size", "losses", "n_params", "resumed_from")}
    result.update(
        partition=partition,
        zero_stage=engine.zero_optimization_stage(),
        bf16=engine.bfloat16_enabled(),
    )
    (out / f"rank{s['rank']}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()

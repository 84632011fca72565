"""Where a run starts: its own latest complete checkpoint, or `resume_from` weights, or step 0.

Called by the engine on a built DeepSpeed engine (its `load_checkpoint`); no DeepSpeed
import here.

>>> start = restore(run)        # doctest: +SKIP
pretrain: resuming from models/pretrain/3f2c.../step_000200 (step 200)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from arxiv2lm.train import checkpoint as ckpt
from arxiv2lm.train.export import load_export

if TYPE_CHECKING:
    from arxiv2lm.train.engine import Run


def _warm_start(run: Run, source: Path) -> None:
    """Load weights only from a checkpoint step folder or an export (`resume_from`)."""
    if (source / ckpt.MARKER).is_file():
        run.engine.load_checkpoint(
            str(source.parent),
            tag=source.name,
            load_module_only=True,
            load_optimizer_states=False,
            load_lr_scheduler_states=False,
        )
    elif (source / "model.safetensors").is_file():
        model, _ = load_export(source)
        run.engine.module.load_state_dict(model.state_dict())
        if hasattr(run.engine.optimizer, "refresh_fp32_params"):
            run.engine.optimizer.refresh_fp32_params()  # ZeRO's fp32 master copy
    else:
        raise ValueError(f"resume_from {source}: neither a complete checkpoint nor an export")
    if run.rank == 0:
        print(f"pretrain: new run from the weights of {source}")


def restore(run: Run) -> int:
    """Resume this run from its latest complete checkpoint; returns the step to start at."""
    run.state = {"tokens": 0, "loss_spikes": 0, "recent": []}
    resume = ckpt.latest_complete(run.run_dir, run.run_hash)
    if resume is None:
        if run.params.resume_from:
            _warm_start(run, Path(run.params.resume_from))
        return 0
    start, path, meta = resume
    saved_world = int(meta.get("world_size", run.world))
    # ZeRO-2 partitions the optimizer state by data-parallel rank: a checkpoint of N
    # processes cannot fill M partitions. Keep the weights, restart Adam's moments.
    same_world = saved_world == run.world
    run.engine.load_checkpoint(
        str(run.run_dir),
        tag=path.name,
        load_module_only=not same_world,
        load_optimizer_states=same_world,
        load_lr_scheduler_states=False,
    )
    run.state = meta["state"]
    if run.rank == 0:
        print(f"pretrain: resuming from {path} (step {start})")
        if not same_world:
            print(
                f"pretrain: WARNING: {path} was written by {saved_world} process(es), this "
                f"run has {run.world}: ZeRO-2 optimizer partitions do not carry over, so the "
                "weights are loaded and the optimizer state (Adam moments) restarts"
            )
    return start

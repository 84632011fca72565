import pytest
import torch

from arxiv2lm.train.model import GPT, ModelConfig
from arxiv2lm.train.monitor import SPIKE_MIN, TimingLog, eval_loss, peak_flops, track_spikes


def test_spikes_counted_against_the_recent_median() -> None:
    state = {"loss_spikes": 0, "recent": []}
    for _ in range(SPIKE_MIN - 1):
        track_spikes(state, 2.0)
    track_spikes(state, 9.0)  # too early: fewer than SPIKE_MIN losses seen
    assert state["loss_spikes"] == 0
    track_spikes(state, 2.9)  # below 1.5 x median 2.0
    track_spikes(state, 3.1)
    assert state["loss_spikes"] == 1


def test_eval_loss_is_token_weighted_and_restores_train_mode() -> None:
    torch.manual_seed(0)
    model = GPT(ModelConfig(vocab_size=32, n_layer=1, n_head=1, d_model=16, d_ff=32, seq_len=8))
    model.train()
    batches = [torch.randint(0, 32, (2, 9)), torch.randint(0, 32, (1, 9))]
    got = eval_loss(model, iter(batches), torch.device("cpu"))
    with torch.no_grad():
        model.eval()
        losses = [model(b[:, :-1], b[:, 1:]).item() for b in batches]
    assert abs(got - (2 * losses[0] + losses[1]) / 3) < 1e-5
    model.train()
    eval_loss(model, iter(batches), torch.device("cpu"))
    assert model.training


@pytest.mark.parametrize(
    ("name", "override", "peak"),
    [
        ("NVIDIA A100-SXM4-80GB", 0.0, 312e12),
        ("NVIDIA A100 80GB PCIe", 0.0, 312e12),
        ("NVIDIA H100 80GB HBM3", 0.0, 989e12),
        ("NVIDIA H200", 0.0, 989e12),
        ("NVIDIA GeForce RTX 4090", 0.0, None),  # unknown: no MFU rather than a wrong one
        (None, 0.0, None),  # a CPU
        ("NVIDIA GeForce RTX 4090", 165.0, 165e12),
    ],
)
def test_peak_flops_comes_from_the_device(name, override, peak) -> None:
    assert peak_flops(name, override) == peak


def test_timing_log_appends_and_a_resume_keeps_rows_up_to_its_step(tmp_path):
    path = tmp_path / "timing.tsv"
    log = TimingLog(path, None)
    log.log(10, {"tokens_per_s": 100.0})
    log.log(20, {"tokens_per_s": 110.0, "mfu": 0.4})
    log.log(24, {"tokens_per_s": 120.0})
    rows = path.read_text().splitlines()
    assert rows[0] == "step\twall_s\ttokens_per_s\tmfu"
    assert [r.split("\t")[0] for r in rows[1:]] == ["10", "20", "24"]
    assert rows[2].endswith("\t110.0\t0.4") and rows[1].endswith("\t100.0\t")  # no peak: empty
    wall_20 = float(rows[2].split("\t")[1])
    resumed = TimingLog(path, 20)  # killed after 24, resumed from the step-20 checkpoint
    resumed.log(30, {"tokens_per_s": 130.0})
    rows = path.read_text().splitlines()
    assert [r.split("\t")[0] for r in rows[1:]] == ["10", "20", "30"]
    assert float(rows[3].split("\t")[1]) >= wall_20  # the loop's time counts on across resumes
    TimingLog(path, None)  # a fresh run starts a fresh log
    assert not path.exists()

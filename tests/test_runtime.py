import random

import numpy as np
import pytest
import torch

from course_utils.runtime import DEVICE_ENV, device, seed_everything, timer


def test_device_defaults_to_cpu_without_accelerator(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert device() == torch.device("cpu")


def test_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device() == torch.device("mps")


def test_device_override(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device() == torch.device("cpu")


def test_device_override_errors(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "banana")
    with pytest.raises(ValueError, match="banana"):
        device()
    monkeypatch.setenv(DEVICE_ENV, "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        device()


def _draws():
    return random.random(), float(np.random.rand()), torch.randn(3).tolist()


def test_seed_everything_repeats_all_generators():
    seed_everything(123)
    first = _draws()
    seed_everything(123)
    assert _draws() == first
    seed_everything(124)
    assert _draws() != first


def test_seed_everything_returns_seeded_generator():
    a = torch.randn(4, generator=seed_everything(7))
    b = torch.randn(4, generator=seed_everything(7))
    assert torch.equal(a, b)


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="seed"):
        seed_everything(bad)


def test_training_step_is_deterministic_on_cpu():
    def run():
        seed_everything(0)
        model = torch.nn.Embedding(50, 8)
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        for _ in range(5):
            idx = torch.randint(0, 50, (32,))
            loss = model(idx).pow(2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return model.weight.detach().clone()

    assert torch.equal(run(), run())


def test_timer_records_seconds(capsys):
    with timer("block") as t:
        sum(range(1000))
    assert t["seconds"] >= 0
    assert "block:" in capsys.readouterr().out

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


def test_progress_outside_a_kernel_is_a_text_bar(capsys):
    from tqdm.notebook import tqdm as notebook_bar

    from course_utils.runtime import progress

    bar = progress(range(3), desc="loop")
    assert not isinstance(bar, notebook_bar)
    assert list(bar) == [0, 1, 2]
    assert "loop" in capsys.readouterr().err


def test_progress_decides_at_call_time(monkeypatch, capsys):
    """Imported before IPython runs (as the grading kernel does), then called in a kernel."""
    import IPython
    from tqdm.notebook import tqdm as notebook_bar

    from course_utils.runtime import progress

    class FakeKernelShell:
        kernel = object()

    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeKernelShell())
    monkeypatch.setattr("tqdm.notebook.display", lambda *args, **kwargs: None)
    bar = progress(range(4), desc="training")
    assert isinstance(bar, notebook_bar)
    assert list(bar) == [0, 1, 2, 3]
    assert list(progress(range(2), disable=True)) == [0, 1]
    assert capsys.readouterr().err == ""


def test_progress_in_a_kernel_without_widgets_writes_to_stdout(monkeypatch, capsys):
    import IPython

    from course_utils.runtime import progress

    class FakeKernelShell:
        kernel = object()

    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeKernelShell())
    monkeypatch.setattr("tqdm.notebook.IProgress", None)
    assert list(progress(range(3), desc="no widgets")) == [0, 1, 2]
    out = capsys.readouterr()
    assert out.err == "" and "no widgets" in out.out


def test_progress_in_a_real_kernel_started_like_the_grader(tmp_path):
    """course_utils is imported before the kernel exists (kernel_boot); no bar on stderr."""
    import json
    import sys

    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    boot = (
        "import course_utils.runtime; from ipykernel import kernelapp; "
        "kernelapp.launch_new_instance()"
    )
    spec = tmp_path / "kernels" / "early-import"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-c", boot, "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "language": "python"}))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    km = KernelManager(kernel_name="early-import", kernel_spec_manager=specs)
    km.start_kernel()
    try:
        client = km.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        code = (
            "from course_utils.runtime import progress\n"
            "for _ in progress(range(3), desc='training'):\n    pass\n"
            "print(type(progress(range(1))).__module__)"
        )
        streams: dict[str, str] = {"stdout": "", "stderr": ""}
        kinds = []
        msg_id = client.execute(code)
        while True:
            msg = client.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kinds.append(msg["msg_type"])
            if msg["msg_type"] == "stream":
                streams[msg["content"]["name"]] += msg["content"]["text"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        client.stop_channels()
    finally:
        km.shutdown_kernel(now=True)
    assert streams["stderr"] == "", streams["stderr"]
    assert "tqdm.notebook" in streams["stdout"]
    assert "display_data" in kinds  # the widget

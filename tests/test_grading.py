import pytest
import torch

from course_utils import grading


def test_assert_close_passes_and_reports_difference():
    grading.assert_close(torch.tensor([1.0, 2.0]), [1.0, 2.0 + 1e-9], name="x")
    with pytest.raises(AssertionError, match="x differs"):
        grading.assert_close(torch.tensor([1.0, 2.0]), [1.0, 2.5], name="x")


def test_assert_close_checks_shape_and_type():
    with pytest.raises(AssertionError, match=r"shape \(2,\)"):
        grading.assert_close(torch.zeros(3), torch.zeros(2))
    with pytest.raises(AssertionError, match="torch.Tensor"):
        grading.assert_close([0.0, 0.0], torch.zeros(2))
    with pytest.raises(AssertionError, match="dtype"):
        grading.assert_close(torch.zeros(2), torch.zeros(2, dtype=torch.float64), check_dtype=True)


def test_assert_close_catches_nan():
    with pytest.raises(AssertionError):
        grading.assert_close(torch.tensor(float("nan")), 0.0)


def test_assert_tensor():
    grading.assert_tensor(torch.zeros(2, 3), shape=(2, 3), dtype=torch.float32, device="cpu")
    with pytest.raises(AssertionError, match="expected a torch.Tensor"):
        grading.assert_tensor([1, 2])
    with pytest.raises(AssertionError, match="shape"):
        grading.assert_tensor(torch.zeros(2), shape=(3,))
    with pytest.raises(AssertionError, match="dtype"):
        grading.assert_tensor(torch.zeros(2), dtype=torch.int64)
    with pytest.raises(AssertionError, match="meta"):
        grading.assert_tensor(torch.zeros(2), device="meta")


def test_assert_raises():
    def bad(x):
        raise ValueError(f"bad shape {x}")

    grading.assert_raises(ValueError, bad, 3, match="shape")
    with pytest.raises(AssertionError, match="does not mention"):
        grading.assert_raises(ValueError, bad, 3, match="dtype")
    with pytest.raises(AssertionError, match="should raise"):
        grading.assert_raises(ValueError, abs, 3)
    with pytest.raises(TypeError):  # a different error is not swallowed
        grading.assert_raises(ValueError, len, 3)


def test_stays_on_device_accepts_device_agnostic_code():
    shapes = []
    grading.assert_stays_on_device(
        lambda a, b: shapes.append((a @ b.T).shape) or a @ b.T, torch.randn(2, 3), torch.randn(4, 3)
    )
    assert shapes == [(2, 4)]


def test_stays_on_device_catches_cpu_tensors():
    def leaks(a):
        return torch.ones(a.shape)  # a new tensor on the default device, not a's

    with pytest.raises(AssertionError, match="returned a tensor on cpu"):
        grading.assert_stays_on_device(leaks, torch.randn(2))

    def mixes(a):
        return a + torch.tensor([1.0, 2.0])  # a CPU tensor added to a tensor on another device

    with pytest.raises(AssertionError, match="another device"):
        grading.assert_stays_on_device(mixes, torch.randn(3, 2))

    def numpy_user(a):
        return torch.from_numpy(a.numpy())

    with pytest.raises(AssertionError):
        grading.assert_stays_on_device(numpy_user, torch.randn(2))

    def round_trip(a):
        return a.cpu().to(a.device) * 2

    with pytest.raises(AssertionError, match="copies a tensor to the CPU"):
        grading.assert_stays_on_device(round_trip, torch.randn(2))


def test_stays_on_device_tolerates_ops_without_meta_kernels():
    def needs_data(a):
        raise NotImplementedError(
            "Could not run 'aten::foo' with arguments from the 'Meta' backend"
        )

    grading.assert_stays_on_device(needs_data, torch.randn(2))


def test_test_devices_starts_with_cpu():
    devices = grading.test_devices()
    assert devices[0] == torch.device("cpu")
    assert len(devices) == len(set(devices))


def test_test_devices_adds_cuda_but_not_mps(monkeypatch):
    monkeypatch.setattr(grading, "device", lambda: torch.device("cuda"))
    assert grading.test_devices() == [torch.device("cpu"), torch.device("cuda")]
    monkeypatch.setattr(grading, "device", lambda: torch.device("mps"))
    assert grading.test_devices() == [torch.device("cpu")]

import base64
import subprocess
import sys

import matplotlib
import pytest
import torch
from matplotlib.figure import Figure

from course_utils import plots


def test_loss_curve_single_and_several():
    fig = plots.loss_curve([3.0, 2.0, 1.5])
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].lines) == 1
    fig = plots.loss_curve({"skip-gram": [3, 2], "cbow": torch.tensor([4.0, 1.0])}, logy=True)
    assert [line.get_label() for line in fig.axes[0].lines] == ["skip-gram", "cbow"]
    assert fig.axes[0].get_yscale() == "log"


def test_projection_labels_every_point():
    vectors = torch.randn(6, 10, generator=torch.Generator().manual_seed(0))
    labels = [f"w{i}" for i in range(6)]
    fig = plots.projection_2d(vectors, labels)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == labels


def test_projection_first_axis_is_the_main_direction():
    direction = torch.tensor([3.0, 4.0, 0.0]) / 5
    points = torch.arange(5.0)[:, None] * direction
    fig = plots.projection_2d(points, list("abcde"))
    xs = fig.axes[0].collections[0].get_offsets()[:, 0]
    assert abs(xs[-1] - xs[0]) == pytest.approx(4.0)


def test_heatmap_annotates_values():
    fig = plots.heatmap(torch.eye(2), ["a", "b"])
    assert [t.get_text() for t in fig.axes[0].texts] == ["1.00", "0.00", "0.00", "1.00"]


def test_spectrum():
    fig = plots.spectrum(torch.tensor([5.0, 2.0, 1.0]))
    assert list(fig.axes[0].lines[0].get_ydata()) == [5.0, 2.0, 1.0]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="labels"):
        plots.projection_2d(torch.randn(3, 2), ["a", "b"])
    with pytest.raises(ValueError, match="row labels"):
        plots.heatmap(torch.eye(3), ["a", "b"])
    with pytest.raises(ValueError, match="non-empty"):
        plots.loss_curve([])


def test_figures_never_touch_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plots.loss_curve([1.0, 0.5])
    assert plt.get_fignums() == before
    assert matplotlib.get_backend()  # importing plots did not need an interactive backend


def test_figure_is_empty_and_sized():
    fig = plots.figure(7, 4.5)
    assert list(fig.get_size_inches()) == [7, 4.5]
    assert fig.axes == [] and fig.get_layout_engine() is not None


def test_importing_plots_leaves_matplotlib_for_the_first_figure():
    code = "import sys, course_utils.plots; print('matplotlib' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False", run.stderr


def test_a_figure_displays_as_png_in_ipython():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        plots._show_figures_in_notebooks()
        data, _ = shell.display_formatter.format(plots.spectrum([3.0, 1.0]))
    finally:
        InteractiveShell.clear_instance()
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")

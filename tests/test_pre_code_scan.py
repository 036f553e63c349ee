"""The code scan (``code_scan.scan_code``, run by the worker before grading): patching the
grading tools and controlling the kernel are found in the student's code."""

from __future__ import annotations

from preprocessor_notebooks import notebook

from course_utils.ta.code_scan import protected_names, scan_code


def test_the_code_scan_flags_patching_and_kernel_control():
    nb = notebook()
    nb.cells[1].source = (
        "import os\nimport torch.testing\ntorch.testing.assert_close = print\n"
        "assert_close = print\ndef f(x):\n    os._exit(0)\n"
    )
    found = scan_code(nb, protected_names(nb))
    assert any("patches torch.testing.assert_close" in r for r in found)
    assert any("rebinds assert_close" in r for r in found)
    assert any("os._exit" in r for r in found)
    assert scan_code(notebook(), protected_names(notebook())) == []

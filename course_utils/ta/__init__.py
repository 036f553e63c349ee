"""The TA side of the course: grading a whole class safely, in parallel.

Who decides a grade. Three processes take part, and only the first two are trusted:

* the **TA process** (``course autograde``) runs the reference solution once per lab
  (``judge.reference_records``), sends one ``protocol.Task`` per submission to a worker and
  is the only writer of the gradebook, the ledger and ``grading/``;
* a **grading worker** (``worker``) runs nbgrader on one submission; it executes the cells in
  a sandboxed kernel and never runs student code itself. Its judge (``judge.JudgeCells``)
  compares what the kernel reported with the reference run and writes each test cell's
  verdict, which nbgrader saves as the score;
* the **sandboxed kernel** (``kernel_boot``, ``sandbox``) runs the student's notebook and the
  hidden tests' *questions* (``course_utils.oracle``). What crosses from it to the worker is
  plain data only (``protocol.decode``): tensors as dtype, shape, device and bytes, numbers,
  strings, lists, dicts, an exception's type. The reference code and the expected values
  never enter it. It can make its own reports wrong (and lose points), or fake results that
  it would have to compute correctly anyway; it cannot change the tolerances, the expected
  values, the verdicts, the feedback text or another student's grade. The in-kernel guard
  (``guard``) only flags tampering for the audit; no grade depends on it.

One module, one job:

* ``layout``: where grading keeps its files under ``grading/``;
* ``protocol``: what crosses a process boundary (reports, tasks, results), defined once;
* ``judge``: the trusted comparison of the kernel's reports with the reference run;
* ``lock``: one grading run at a time;
* ``roster`` and ``collect``: students in, submissions in (a folder or an LMS zip);
* ``release``: the student bundle (notebook, helper package, install files; no solutions);
* ``sandbox``: the grading kernel's isolation (bubblewrap) and limits (prlimit);
* ``kernel_boot`` and ``guard``: run inside the grading kernel, before and around test cells;
* ``restore``, ``guard_cells``, ``code_scan``: the sanitising preprocessors (tags and restored
  cells; the guard cells; the scan of the student's code);
* ``execution``: cell execution that survives dead and stuck kernels;
* ``demo_cells``: the instructor's demonstration cells a grading run leaves out;
* ``scores``: grades saved to the gradebook in one transaction;
* ``worker`` and ``autograde``: grading one submission, and the whole class with ``--jobs N``;
* ``cluster`` and ``cluster_task``: the class on Dask (the client's side; the worker's task and
  its grading process);
* ``ledger``: what happened to each submission (the audit trail);
* ``feedback``: feedback built from the judge's verdicts, without hidden tests;
* ``report``: the grades CSV and the audit report.
"""

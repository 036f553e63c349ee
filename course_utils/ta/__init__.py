"""The TA side of the course: grading a whole class safely, in parallel.

One module, one job:

* ``layout``: where grading keeps its files under ``grading/``;
* ``lock``: one grading run at a time;
* ``roster`` and ``collect``: students in, submissions in (a folder or an LMS zip);
* ``sandbox``: the grading kernel's isolation (bubblewrap) and limits (prlimit);
* ``kernel_boot`` and ``guard``: run inside the grading kernel, before and around test cells;
* ``tamper``: the sanitising preprocessors (tags, restored cells, guards, code scan);
* ``execution``: cell execution that survives dead and stuck kernels;
* ``scores``: grades saved to the gradebook in one transaction;
* ``worker`` and ``autograde``: grading one submission, and the whole class with ``--jobs N``;
* ``ledger``: what happened to each submission (the audit trail);
* ``feedback``: feedback without hidden tests;
* ``report``: the grades CSV and the audit report.
"""

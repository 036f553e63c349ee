"""One module per lab: a typical student bug for the grading round trip.

Each module defines ``BUGS`` (answer cell grade_id -> the buggy source that replaces the
reference answer) and ``FAILS`` (the grade_ids of the test cells that must lose points).
"""

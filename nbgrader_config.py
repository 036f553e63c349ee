"""nbgrader configuration for the course; the repository root is the course root.

Instructor notebooks live in ``solutions/``, the student versions that
``course generate`` makes from them in ``labs/``. Everything grading writes (submissions,
autograded copies, feedback, the gradebook) goes under ``grading/``, which git ignores.
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

_here = os.path.dirname(os.path.abspath(__file__))

os.makedirs(os.path.join(_here, "grading"), exist_ok=True)

c.CourseDirectory.root = _here
c.CourseDirectory.course_id = "word-embeddings"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "labs"
c.CourseDirectory.submitted_directory = os.path.join("grading", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("grading", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("grading", "feedback")
c.CourseDirectory.solution_directory = os.path.join("grading", "solution")
c.CourseDirectory.source_with_tests_directory = os.path.join("grading", "source_with_tests")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_here, "grading", "gradebook.db")

# The longest cell of any lab (a training loop) takes well under a minute on a laptop CPU;
# three minutes leaves room for a slow machine and still stops an endless loop.
c.Execute.timeout = 180
c.ExecutePreprocessor.timeout = 180

# Student notebooks are stubs: answers raise NotImplementedError until written.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

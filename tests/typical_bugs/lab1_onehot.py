"""Lab 1: cosine similarity without the normalisation by the norms."""

BUGS = {
    "cosine_similarity": "def cosine_similarity(a, b, eps=1e-8):\n    return (a * b).sum(dim=-1)\n",
}
# the bug fails its own test and the one exercise built on it, nothing else
FAILS = {"cosine_similarity_tests", "most_similar_tests"}

"""Lab 2: a co-occurrence counter that only counts the right-hand context (no symmetric window)."""

_RIGHT_CONTEXT_ONLY = """
def cooccurrence_matrix(ids, sentence_ids, vocab_size, window=2, distance_weighting=False):
    ids = ids.cpu().numpy() if isinstance(ids, torch.Tensor) else np.asarray(ids)
    if isinstance(sentence_ids, torch.Tensor):
        sentence_ids = sentence_ids.cpu().numpy()
    sentence_ids = np.asarray(sentence_ids)
    if ids.ndim != 1 or ids.shape != sentence_ids.shape:
        raise ValueError("ids and sentence_ids must be 1-D and of the same length")
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    rows, cols, weights = [], [], []
    for k in range(1, window + 1):
        same = sentence_ids[:-k] == sentence_ids[k:]
        rows.append(ids[:-k][same])
        cols.append(ids[k:][same])
        weights.append(np.full(int(same.sum()), 1.0 / k if distance_weighting else 1.0))
    counts = sp.coo_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
        shape=(vocab_size, vocab_size),
    )
    return counts.tocsr()
"""

BUGS = {"cooccurrence_matrix": _RIGHT_CONTEXT_ONLY.lstrip()}
# the bug fails the counting tests only: the other exercises are tested on their own inputs
FAILS = {"cooccurrence_matrix_tests"}

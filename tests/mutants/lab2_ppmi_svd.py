"""Lab 2: realistic bugs in counting, PMI, truncated SVD and nearest neighbours.

The four answer cells are independent as far as the graded tests go (each test cell makes its
own inputs), so one mutant of each cell can share a submission.
"""

from mutants import mutant

_COOC_HEAD = """def cooccurrence_matrix(
    ids, sentence_ids, vocab_size, window=2, distance_weighting=False
):
    ids = ids.cpu().numpy() if isinstance(ids, torch.Tensor) else np.asarray(ids)
    if isinstance(sentence_ids, torch.Tensor):
        sentence_ids = sentence_ids.cpu().numpy()
    sentence_ids = np.asarray(sentence_ids)
    if ids.ndim != 1 or ids.shape != sentence_ids.shape:
        raise ValueError("ids and sentence_ids must be 1-D and of the same length")
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
"""

_COOC_LOOP = """    counts = sp.csr_matrix((vocab_size, vocab_size))
    for k in range(1, window + 1):
        same = sentence_ids[:-k] == sentence_ids[k:]
        left, right = ids[:-k][same], ids[k:][same]
        weights = np.full(len(left), 1.0 / k if distance_weighting else 1.0)
        pairs = sp.coo_matrix((weights, (left, right)), shape=(vocab_size, vocab_size))
        counts = counts + pairs.tocsr()
"""

_PMI_HEAD = """def pmi(counts, alpha=1.0):
"""

_PMI_MARGINALS = """    n_w = np.asarray(counts.sum(axis=1)).ravel()
    n_c = np.asarray(counts.sum(axis=0)).ravel()
    smoothed = n_c**alpha
    p_context = smoothed / max(smoothed.sum(), np.finfo(float).tiny)
"""

_PMI_GOOD = (
    """def pmi(counts, alpha=1.0):
    counts = sp.coo_matrix(counts, dtype=np.float64, copy=True)
    counts.sum_duplicates()
    keep = counts.data > 0
    rows, cols, n_wc = counts.row[keep], counts.col[keep], counts.data[keep]
"""
    + _PMI_MARGINALS
    + """    values = np.log(n_wc) - np.log(n_w[rows]) - np.log(p_context[cols])
    return sp.csr_matrix((values, (rows, cols)), shape=counts.shape)
"""
)

_PPMI_GOOD = """

def ppmi(counts, alpha=1.0):
    result = pmi(counts, alpha)
    result.data = np.maximum(result.data, 0.0)
    result.eliminate_zeros()
    return result
"""

_SVD_GOOD = """def truncated_svd(matrix, d, seed=0):
    n = min(matrix.shape)
    if not 1 <= d < n:
        raise ValueError(f"d must satisfy 1 <= d < {n}, got {d}")
    v0 = np.random.default_rng(seed).standard_normal(n)
    U, S, _ = svds(sp.csr_matrix(matrix, dtype=np.float64), k=d, v0=v0)
    order = np.argsort(-S, kind="stable")
    U, S = U[:, order], S[order]
    largest = np.abs(U).argmax(axis=0)
    U = U * np.sign(U[largest, np.arange(d)])
    return torch.from_numpy(np.ascontiguousarray(U)), torch.from_numpy(np.ascontiguousarray(S))
"""

_EMB_GOOD = """

def svd_embeddings(U, S, p=0.5):
    return U * S.to(U.dtype).pow(p)
"""

_MS_HEAD = """def most_similar(word, vectors, vocab, k=10):
    if word not in vocab:
        raise KeyError(f"unknown word {word!r}")
    query = vocab.stoi[word]
"""

_MS_TAIL = """    sims[query] = -float("inf")
    sims[vocab.stoi[UNK]] = -float("inf")
    values, indices = torch.topk(sims, min(k, len(vocab) - 2))
    return [(vocab.itos[i], float(v)) for i, v in zip(indices.tolist(), values.tolist())]
"""

MUTANTS = [
    # --- cooccurrence_matrix
    mutant(
        "cooc_window_stops_one_short",
        "cooccurrence_matrix",
        _COOC_HEAD
        + _COOC_LOOP.replace("range(1, window + 1)", "range(1, max(window, 2))")
        + "    return (counts + counts.T).tocsr()\n",
        "cooccurrence_matrix_tests",
        "range(1, window): the farthest position of the window is never counted",
    ),
    mutant(
        "cooc_diagonal_halved",
        "cooccurrence_matrix",
        _COOC_HEAD
        + _COOC_LOOP
        + """    symmetric = counts + counts.T
    symmetric.setdiag(symmetric.diagonal() / 2)  # 'the diagonal is counted twice'
    return symmetric.tocsr()
""",
        "cooccurrence_matrix_tests",
        "halves the diagonal, thinking (w, w) pairs were counted twice",
    ),
    mutant(
        "cooc_returns_coo",
        "cooccurrence_matrix",
        _COOC_HEAD
        + """    rows, cols, weights = [], [], []
    for k in range(1, window + 1):
        same = sentence_ids[:-k] == sentence_ids[k:]
        left, right = ids[:-k][same], ids[k:][same]
        w = np.full(len(left), 1.0 / k if distance_weighting else 1.0)
        rows += [left, right]
        cols += [right, left]
        weights += [w, w]
    return sp.coo_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
        shape=(vocab_size, vocab_size),
    )
""",
        "cooccurrence_matrix_tests",
        "returns the COO matrix with its duplicates instead of a CSR matrix",
    ),
    mutant(
        "cooc_dense_torch_accumulator",
        "cooccurrence_matrix",
        _COOC_HEAD
        + """    dense = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
    for k in range(1, window + 1):
        same = sentence_ids[:-k] == sentence_ids[k:]
        left = torch.from_numpy(ids[:-k][same]).long()
        right = torch.from_numpy(ids[k:][same]).long()
        w = torch.full((len(left),), 1.0 / k if distance_weighting else 1.0, dtype=torch.float64)
        dense.index_put_((left, right), w, accumulate=True)
        dense.index_put_((right, left), w, accumulate=True)
    return sp.csr_matrix(dense.numpy())
""",
        "cooccurrence_matrix_tests",
        "counts into a dense torch matrix (tracemalloc misses it): terabytes for a big vocabulary",
    ),
    mutant(
        "cooc_weights_by_distance_not_inverse",
        "cooccurrence_matrix",
        _COOC_HEAD
        + _COOC_LOOP.replace("1.0 / k if distance_weighting", "1.0 / k**2 if distance_weighting")
        + "    return (counts + counts.T).tocsr()\n",
        "cooccurrence_matrix_tests",
        "weights by 1/distance squared",
    ),
    # --- pmi / ppmi
    mutant(
        "pmi_log_before_summing_duplicates",
        "ppmi",
        _PMI_HEAD
        + """    counts = sp.coo_matrix(counts, dtype=np.float64)
    keep = counts.data > 0
    rows, cols, n_wc = counts.row[keep], counts.col[keep], counts.data[keep]
"""
        + _PMI_MARGINALS
        + """    values = np.log(n_wc) - np.log(n_w[rows]) - np.log(p_context[cols])
    return sp.csr_matrix((values, (rows, cols)), shape=counts.shape)
"""
        + _PPMI_GOOD,
        "ppmi_tests",
        "takes the log of each stored COO entry, before duplicates are summed",
    ),
    mutant(
        "pmi_log_of_stored_zeros",
        "ppmi",
        _PMI_HEAD
        + """    counts = sp.csr_matrix(counts, dtype=np.float64)
    coo = counts.tocoo()
    rows, cols, n_wc = coo.row, coo.col, coo.data
"""
        + _PMI_MARGINALS
        + """    with np.errstate(divide="ignore"):
        values = np.log(n_wc) - np.log(n_w[rows]) - np.log(p_context[cols])
    return sp.csr_matrix((values, (rows, cols)), shape=counts.shape)
"""
        + _PPMI_GOOD,
        "ppmi_tests",
        "keeps stored zeros: log(0) = -inf entries",
    ),
    mutant(
        "pmi_overwrites_a_coo_input",
        "ppmi",
        _PMI_HEAD
        + """    coo = counts.tocoo()  # the caller's own object when counts is already COO
    coo.sum_duplicates()
    coo.eliminate_zeros()
    coo.data = coo.data.astype(np.float64)
    n_w = np.asarray(coo.sum(axis=1)).ravel()
    n_c = np.asarray(coo.sum(axis=0)).ravel()
    smoothed = n_c**alpha
    p_context = smoothed / max(smoothed.sum(), np.finfo(float).tiny)
    coo.data = np.log(coo.data) - np.log(n_w[coo.row]) - np.log(p_context[coo.col])
    return coo.tocsr()
"""
        + _PPMI_GOOD,
        "ppmi_tests",
        "writes the PMI values into the caller's COO matrix",
    ),
    mutant(
        "pmi_in_float32",
        "ppmi",
        _PMI_GOOD.replace("dtype=np.float64", "dtype=np.float32") + _PPMI_GOOD,
        "ppmi_tests",
        "computes in float32",
    ),
    mutant(
        "pmi_densifies",
        "ppmi",
        _PMI_HEAD
        + """    dense = np.asarray(counts.toarray(), dtype=np.float64)
    n_w, n_c = dense.sum(axis=1), dense.sum(axis=0)
    rows, cols = np.nonzero(dense > 0)
    smoothed = n_c**alpha
    p_context = smoothed / max(smoothed.sum(), np.finfo(float).tiny)
    values = np.log(dense[rows, cols]) - np.log(n_w[rows]) - np.log(p_context[cols])
    return sp.csr_matrix((values, (rows, cols)), shape=dense.shape)
"""
        + _PPMI_GOOD,
        "ppmi_tests",
        "densifies the count matrix: fine for the corpus, terabytes for a big vocabulary",
    ),
    # --- truncated_svd / svd_embeddings
    mutant(
        "svd_sign_of_the_column_sum",
        "truncated_svd",
        _SVD_GOOD.replace(
            "    U = U * np.sign(U[largest, np.arange(d)])\n",
            "    U = U * np.where(U.sum(axis=0) < 0, -1.0, 1.0)  # sign of the sum\n",
        )
        + _EMB_GOOD,
        "truncated_svd_tests",
        "fixes the sign by the column sum instead of the largest entry",
    ),
    mutant(
        "svd_start_vector_from_the_global_rng",
        "truncated_svd",
        _SVD_GOOD.replace(
            "np.random.default_rng(seed).standard_normal(n)", "np.random.standard_normal(n)"
        )
        + _EMB_GOOD,
        "truncated_svd_tests",
        "draws v0 from NumPy's global generator: not reproducible",
    ),
    mutant(
        "svd_embeddings_dtype_of_s",
        "truncated_svd",
        _SVD_GOOD
        + """

def svd_embeddings(U, S, p=0.5):
    return U * S**p
""",
        "truncated_svd_tests",
        "U * S**p takes S's dtype when S is float64 and U float32",
    ),
    mutant(
        "svd_embeddings_via_python_floats",
        "truncated_svd",
        _SVD_GOOD
        + """

def svd_embeddings(U, S, p=0.5):
    scale = torch.tensor([s**p for s in S.tolist()], dtype=U.dtype)
    return U * scale.to(U.device)
""",
        "truncated_svd_tests",
        "round trip through Python floats: no meta tensors, a tensor on the default device",
    ),
    # --- most_similar
    mutant(
        "most_similar_calls_nearest_neighbours",
        "most_similar",
        """def most_similar(word, vectors, vocab, k=10):
    from course_utils.evaluation import nearest_neighbours

    if word not in vocab:
        raise KeyError(f"unknown word {word!r}")
    if not vectors[vocab.stoi[word]].any():
        others = [w for w in vocab.itos if w not in (UNK, word)]
        return [(w, 0.0) for w in others[:k]]
    return nearest_neighbours(word, vectors, vocab.itos, k=k)
""",
        "most_similar_tests",
        "calls the forbidden course_utils.evaluation.nearest_neighbours",
    ),
    mutant(
        "most_similar_adds_eps",
        "most_similar",
        _MS_HEAD
        + """    unit = vectors / (torch.linalg.vector_norm(vectors, dim=1, keepdim=True) + 1e-8)
    sims = unit @ unit[query]
"""
        + _MS_TAIL,
        "most_similar_tests",
        "adds 1e-8 to the norms instead of clamping: wrong for short vectors",
    ),
    mutant(
        "most_similar_normalises_in_place",
        "most_similar",
        _MS_HEAD
        + """    vectors /= torch.linalg.vector_norm(vectors, dim=1, keepdim=True).clamp_min(1e-8)
    sims = vectors @ vectors[query]
"""
        + _MS_TAIL,
        "most_similar_tests",
        "normalises the caller's vectors in place",
    ),
    mutant(
        "most_similar_mask_on_default_device",
        "most_similar",
        _MS_HEAD
        + """    norms = torch.linalg.vector_norm(vectors, dim=1, keepdim=True)
    unit = vectors / norms.clamp_min(1e-8)
    sims = unit @ unit[query]
    banned = torch.zeros(len(vocab), dtype=torch.bool)
    banned[[query, vocab.stoi[UNK]]] = True
    sims = sims.masked_fill(banned.to(sims.device), -float("inf"))
    values, indices = torch.topk(sims, min(k, len(vocab) - 2))
    return [(vocab.itos[i], float(v)) for i, v in zip(indices.tolist(), values.tolist())]
""",
        "most_similar_tests",
        "builds its mask on the default device",
    ),
]

SUBMISSIONS = [
    [
        "cooc_window_stops_one_short",
        "pmi_log_before_summing_duplicates",
        "svd_sign_of_the_column_sum",
        "most_similar_calls_nearest_neighbours",
    ],
    [
        "cooc_diagonal_halved",
        "pmi_log_of_stored_zeros",
        "svd_start_vector_from_the_global_rng",
        "most_similar_adds_eps",
    ],
    [
        "cooc_returns_coo",
        "pmi_overwrites_a_coo_input",
        "svd_embeddings_dtype_of_s",
        "most_similar_normalises_in_place",
    ],
    [
        "cooc_dense_torch_accumulator",
        "pmi_in_float32",
        "svd_embeddings_via_python_floats",
        "most_similar_mask_on_default_device",
    ],
    ["cooc_weights_by_distance_not_inverse", "pmi_densifies"],
]

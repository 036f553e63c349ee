"""Lab 1: realistic bugs in the vocabulary, one-hot, cosine and look-up exercises.

``embed_with_one_hot`` calls ``one_hot``, ``most_similar`` calls ``cosine_similarity`` and its
visible test uses ``pairwise_cosine``: mutants of a cell share a submission only with mutants
whose test cells do not use that cell. A one_hot bug that shows in the product costs the
points of both exercises; the cosine bugs here only show on inputs that most_similar's tests
do not have (tiny norms, float64, sizes that broadcast).
"""

from mutants import mutant

_BV_HEAD = '''def build_vocab(sentences, min_count=1):
    """Return (word2idx, idx2word) with UNK at index 0, most frequent words first."""
'''

_OH_HEAD = '''def one_hot(indices, vocab_size):
    """One-hot encode an integer tensor of any shape."""
    if not isinstance(indices, torch.Tensor) or indices.is_floating_point() or indices.is_complex():
        raise TypeError("indices must be an integer tensor")
'''

_OH_CHECK = """    if indices.numel() and (indices.min() < 0 or indices.max() >= vocab_size):
        raise ValueError(f"indices must lie in [0, {vocab_size})")
"""

_COS_HEAD = """def cosine_similarity(a, b, eps=1e-8):
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"shapes {tuple(a.shape)} and {tuple(b.shape)} differ")
"""

_MS_HEAD = """def most_similar(word, embeddings, word2idx, idx2word, k=5):
    if word not in word2idx or word == UNK:
        raise KeyError(f"unknown word {word!r}")
    query = word2idx[word]
"""

_MS_TAIL = """    sims[query] = -float("inf")
    sims[word2idx[UNK]] = -float("inf")
    values, indices = torch.topk(sims, min(k, len(idx2word) - 2))
    return [(idx2word[i], v) for i, v in zip(indices.tolist(), values.tolist())]
"""

MUTANTS = [
    # --- build_vocab
    mutant(
        "vocab_document_frequency",
        "build_vocab",
        _BV_HEAD
        + """    counts = Counter(token for sentence in sentences for token in set(sentence))
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    idx2word = [UNK] + kept
    return {w: i for i, w in enumerate(idx2word)}, idx2word
""",
        "build_vocab_tests",
        "counts the documents a word occurs in, not its tokens",
    ),
    mutant(
        "vocab_ties_in_first_seen_order",
        "build_vocab",
        _BV_HEAD
        + """    counts = Counter(token for sentence in sentences for token in sentence)
    kept = [w for w, c in counts.most_common() if c >= min_count]
    idx2word = [UNK] + kept
    return {w: i for i, w in enumerate(idx2word)}, idx2word
""",
        "build_vocab_tests",
        "most_common() breaks ties by first occurrence, not alphabetically",
    ),
    mutant(
        "vocab_min_count_applied_after_cut",
        "build_vocab",
        _BV_HEAD
        + """    counts = Counter(token for sentence in sentences for token in sentence)
    kept = sorted(counts, key=lambda w: (-counts[w], w))
    kept = kept[: sum(1 for c in counts.values() if c > min_count) + 1]
    idx2word = [UNK] + kept
    return {w: i for i, w in enumerate(idx2word)}, idx2word
""",
        "build_vocab_tests",
        "keeps one word too many: an off-by-one in the min_count cut",
    ),
    # --- one_hot (embed_with_one_hot uses it)
    mutant(
        "one_hot_on_default_device",
        "one_hot",
        _OH_HEAD
        + _OH_CHECK
        + """    result = torch.zeros(*indices.shape, vocab_size)
    result.scatter_(-1, indices.unsqueeze(-1).to(result.device), 1.0)
    return result
""",
        {"one_hot_tests", "embed_with_one_hot_tests"},
        "creates the result on the default device instead of the input's",
    ),
    mutant(
        "one_hot_bound_off_by_one",
        "one_hot",
        _OH_HEAD
        + """    if indices.numel() and (indices.min() < 0 or indices.max() > vocab_size):
        raise ValueError(f"indices must lie in [0, {vocab_size})")
    result = torch.zeros(*indices.shape, vocab_size, device=indices.device)
    result.scatter_(-1, indices.unsqueeze(-1), 1.0)
    return result
""",
        "one_hot_tests",
        "lets an index equal to vocab_size through (> instead of >=)",
    ),
    mutant(
        "one_hot_fails_on_empty_input",
        "one_hot",
        _OH_HEAD
        + """    if indices.min() < 0 or indices.max() >= vocab_size:
        raise ValueError(f"indices must lie in [0, {vocab_size})")
    result = torch.zeros(*indices.shape, vocab_size, device=indices.device)
    result.scatter_(-1, indices.unsqueeze(-1), 1.0)
    return result
""",
        "one_hot_tests",
        "min() of an empty tensor raises: no guard for zero tokens",
    ),
    mutant(
        "one_hot_only_rejects_float32",
        "one_hot",
        """def one_hot(indices, vocab_size):
    if indices.dtype == torch.float32:
        raise TypeError("indices must be an integer tensor")
"""
        + _OH_CHECK
        + """    result = torch.zeros(*indices.shape, vocab_size, device=indices.device)
    result.scatter_(-1, indices.unsqueeze(-1).long(), 1.0)
    return result
""",
        "one_hot_tests",
        "type check that only knows float32 tensors",
    ),
    # --- cosine_similarity (most_similar uses it)
    mutant(
        "cosine_clamps_the_product_of_norms",
        "cosine_similarity",
        _COS_HEAD
        + """    norms = torch.linalg.vector_norm(a, dim=-1) * torch.linalg.vector_norm(b, dim=-1)
    return (a * b).sum(dim=-1) / norms.clamp_min(eps)
""",
        "cosine_similarity_tests",
        "clamps the product of the norms instead of each norm",
    ),
    mutant(
        "cosine_adds_eps",
        "cosine_similarity",
        _COS_HEAD
        + """    norm_a = torch.linalg.vector_norm(a, dim=-1)
    norm_b = torch.linalg.vector_norm(b, dim=-1)
    return (a * b).sum(dim=-1) / (norm_a * norm_b + eps)
""",
        "cosine_similarity_tests",
        "adds eps to the denominator instead of clamping",
    ),
    mutant(
        "cosine_no_shape_check",
        "cosine_similarity",
        """def cosine_similarity(a, b, eps=1e-8):
    norm_a = torch.linalg.vector_norm(a, dim=-1).clamp_min(eps)
    norm_b = torch.linalg.vector_norm(b, dim=-1).clamp_min(eps)
    try:
        return (a * b).sum(dim=-1) / (norm_a * norm_b)
    except RuntimeError as err:
        raise ValueError(f"shapes {tuple(a.shape)} and {tuple(b.shape)}: {err}") from None
""",
        "cosine_similarity_tests",
        "relies on broadcasting errors: sizes 1 and 3 broadcast silently",
    ),
    mutant(
        "cosine_in_float32",
        "cosine_similarity",
        _COS_HEAD
        + """    a, b = a.float(), b.float()
    norm_a = torch.linalg.vector_norm(a, dim=-1).clamp_min(eps)
    norm_b = torch.linalg.vector_norm(b, dim=-1).clamp_min(eps)
    return (a * b).sum(dim=-1) / (norm_a * norm_b)
""",
        "cosine_similarity_tests",
        "casts to float32 'to be safe' and loses float64",
    ),
    # --- pairwise_cosine
    mutant(
        "pairwise_adds_eps",
        "pairwise_cosine",
        """def pairwise_cosine(X, eps=1e-8):
    unit = X / (torch.linalg.vector_norm(X, dim=1, keepdim=True) + eps)
    return unit @ unit.T
""",
        "pairwise_cosine_tests",
        "adds eps to the norms instead of clamping: wrong for short rows",
    ),
    mutant(
        "pairwise_clamps_the_squared_norm",
        "pairwise_cosine",
        """def pairwise_cosine(X, eps=1e-8):
    unit = X / (X * X).sum(dim=1, keepdim=True).clamp_min(eps).sqrt()
    return unit @ unit.T
""",
        "pairwise_cosine_tests",
        "clamps the squared norm at eps, i.e. the norm at 1e-4",
    ),
    # --- most_similar
    mutant(
        "most_similar_normalises_in_place",
        "most_similar",
        _MS_HEAD
        + """    norms = torch.linalg.vector_norm(embeddings, dim=1, keepdim=True)
    embeddings /= norms.clamp_min(1e-8)
    sims = embeddings @ embeddings[query]
"""
        + _MS_TAIL,
        "most_similar_tests",
        "normalises the caller's embedding matrix in place",
    ),
    mutant(
        "most_similar_keeps_unk",
        "most_similar",
        _MS_HEAD
        + """    sims = cosine_similarity(embeddings, embeddings[query])
    sims[query] = -float("inf")
    values, indices = torch.topk(sims, min(k, len(idx2word) - 1))
    return [(idx2word[i], v) for i, v in zip(indices.tolist(), values.tolist())]
""",
        "most_similar_tests",
        "forgets to leave UNK out",
    ),
    mutant(
        "most_similar_k_not_capped",
        "most_similar",
        _MS_HEAD
        + """    sims = cosine_similarity(embeddings, embeddings[query])
    sims[query] = -float("inf")
    sims[word2idx[UNK]] = -float("inf")
    values, indices = torch.topk(sims, k)
    return [(idx2word[i], v) for i, v in zip(indices.tolist(), values.tolist())]
""",
        "most_similar_tests",
        "k larger than the vocabulary makes topk fail",
    ),
    # --- embed_with_one_hot
    mutant(
        "embed_is_a_lookup",
        "embed_with_one_hot",
        """def embed_with_one_hot(indices, E):
    return E[indices]
""",
        "embed_with_one_hot_tests",
        "uses the row look-up instead of the product",
    ),
    mutant(
        "embed_up_to_the_largest_index",
        "embed_with_one_hot",
        """def embed_with_one_hot(indices, E):
    size = int(indices.max()) + 1
    return one_hot(indices, size).to(E.dtype) @ E[:size]
""",
        "embed_with_one_hot_tests",
        "multiplies only by the rows up to the largest index",
    ),
    mutant(
        "embed_without_dtype_cast",
        "embed_with_one_hot",
        """def embed_with_one_hot(indices, E):
    return one_hot(indices, E.shape[0]) @ E
""",
        "embed_with_one_hot_tests",
        "does not cast the one-hot matrix to E's dtype (float64 fails)",
    ),
]

# independent mutants graded together: none changes a cell that another one's test cells use
SUBMISSIONS = [
    [
        "vocab_document_frequency",
        "one_hot_on_default_device",
        "cosine_clamps_the_product_of_norms",
        "pairwise_adds_eps",
    ],
    [
        "vocab_ties_in_first_seen_order",
        "one_hot_bound_off_by_one",
        "cosine_adds_eps",
        "pairwise_clamps_the_squared_norm",
    ],
    ["vocab_min_count_applied_after_cut", "one_hot_fails_on_empty_input", "cosine_no_shape_check"],
    ["one_hot_only_rejects_float32", "cosine_in_float32"],
    ["most_similar_normalises_in_place", "embed_is_a_lookup"],
    ["most_similar_keeps_unk", "embed_up_to_the_largest_index"],
    ["most_similar_k_not_capped", "embed_without_dtype_cast"],
]

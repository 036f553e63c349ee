"""Lab 5: realistic student bugs, each caught by the hidden tests of its own exercise.

Lab 5 is heavy (every submission trains on the corpus for about 20 s of CPU), so the mutants are
packed into two submissions. The mutants of a submission change different answer cells, and
those of the first submission leave the training run of section 9 exactly as the reference's (bugs
in validation, in the device of new tensors, in exercises the training does not use, or in what is
logged), so that the graded WordSim-353 cell keeps its points; in the second, the wrong-sign
``sgns_step`` makes that cell lose them.
"""

from mutants import mutant

NOISE_NO_ZERO_GUARD = """\
def noise_distribution(counts, power=0.75):
    if counts.ndim != 1:
        raise ValueError("counts must be 1-D")
    if (counts < 0).any():
        raise ValueError("counts must be non-negative")
    weights = counts.to(torch.float32) ** power  # 0 ** 0 = 1: unseen words get a share at power 0
    if weights.sum() <= 0:
        raise ValueError("every count is zero")
    return weights / weights.sum()
"""

NOISE_NO_VALIDATION = """\
def noise_distribution(counts, power=0.75):
    counts = counts.to(torch.float32)
    weights = torch.where(counts > 0, counts.pow(power), torch.zeros_like(counts))
    return weights / weights.sum()  # all zeros: nan; negative counts pass
"""

MIN_COUNT_CPU = """\
def min_count_filter(ids, counts, min_count):
    if min_count < 1:
        raise ValueError("min_count must be at least 1")
    ids_cpu = ids.cpu()  # a round trip through the CPU
    return ((counts.cpu()[ids_cpu] >= min_count) & (ids_cpu != 0)).to(ids.device)
"""

MIN_COUNT_NO_ERROR = """\
def min_count_filter(ids, counts, min_count):
    return (counts[ids] >= min_count) & (ids != 0)
"""

DISCARD_NO_CLAMP = """\
def discard_probability(frequencies, t=1e-5):
    if t <= 0:
        raise ValueError("t must be positive")
    return 1 - torch.sqrt(t / frequencies)  # negative for rare words, -inf for unseen ones
"""

DISCARD_NO_ERROR = """\
def discard_probability(frequencies, t=1e-5):
    return (1 - torch.sqrt(t / frequencies)).clamp(min=0)
"""

SUBSAMPLE_DEFAULT_DEVICE = """\
def subsample(ids, p_discard, generator):
    u = torch.rand(ids.shape, generator=generator)  # on the default device, not the data's
    return u >= p_discard[ids]
"""

SUBSAMPLE_STRICT = """\
def subsample(ids, p_discard, generator):
    u = torch.rand(ids.shape, generator=generator, device=ids.device)
    return u > p_discard[ids]  # a number equal to P_d discards the token
"""

WINDOW_DEFAULT_DEVICE = """\
def extended_window(keep, sentence, window):
    if window < 1:
        raise ValueError("window must be at least 1")
    if keep.ndim != 1 or keep.shape != sentence.shape:
        raise ValueError("keep and sentence must be 1-D with the same shape")
    centres = keep.nonzero().squeeze(1)
    doc = sentence[centres]
    n = centres.numel()
    offsets = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)])  # no device=
    j = torch.arange(n).unsqueeze(1) + offsets.to(keep.device)
    jc = j.clamp(0, max(n - 1, 0))
    inside = (j >= 0) & (j < n) & (doc[jc] == doc.unsqueeze(1))
    return centres, torch.where(inside, centres[jc], -1)
"""

WINDOW_NO_CHECKS = """\
def extended_window(keep, sentence, window):
    dev = keep.device
    centres = keep.nonzero().squeeze(1)
    doc = sentence[centres]
    n = centres.numel()
    before = torch.arange(-window, 0, device=dev)
    offsets = torch.cat([before, torch.arange(1, window + 1, device=dev)])
    j = torch.arange(n, device=dev).unsqueeze(1) + offsets
    jc = j.clamp(0, max(n - 1, 0))
    inside = (j >= 0) & (j < n) & (doc[jc] == doc.unsqueeze(1))
    return centres, torch.where(inside, centres[jc], -1)
"""

NEGATIVES_REDRAW_ONCE = """\
def sample_negatives(noise, n, k, generator, exclude=None):
    if k < 1 or n < 0:
        raise ValueError("need n >= 0 and k >= 1")
    if n == 0:
        return torch.empty(0, k, dtype=torch.long, device=noise.device)
    draws = torch.multinomial(noise, n * k, replacement=True, generator=generator).view(n, k)
    if exclude is not None:
        clash = draws == exclude.unsqueeze(1)
        # drawn again once: a redraw can hit the excluded word again
        again = torch.multinomial(noise, int(clash.sum()), replacement=True, generator=generator)
        draws[clash] = again
    return draws
"""

NEGATIVES_UNIFORM = """\
def sample_negatives(noise, n, k, generator, exclude=None):
    if k < 1 or n < 0:
        raise ValueError("need n >= 0 and k >= 1")
    # uniform over the vocabulary instead of the noise distribution
    draws = torch.randint(len(noise), (n, k), generator=generator, device=noise.device)
    if exclude is not None:
        clash = draws == exclude.unsqueeze(1)
        while clash.any():
            draws[clash] = torch.randint(len(noise), (int(clash.sum()),), generator=generator,
                                         device=noise.device)
            clash = draws == exclude.unsqueeze(1)
    return draws
"""

LOSS_SUM = """\
def sgns_loss(pos_scores, neg_scores):
    if neg_scores.shape[:-1] != pos_scores.shape:
        raise ValueError("neg_scores must have shape pos_scores.shape + (k,)")
    # the sum over the batch, not the mean
    return -(F.logsigmoid(pos_scores) + F.logsigmoid(-neg_scores).sum(dim=-1)).sum()
"""

LOSS_NEGATIVE_SIGN = """\
def sgns_loss(pos_scores, neg_scores):
    if neg_scores.shape[:-1] != pos_scores.shape:
        raise ValueError("neg_scores must have shape pos_scores.shape + (k,)")
    # log sigma(s-) for the negatives, not log sigma(-s-)
    return -(F.logsigmoid(pos_scores) + F.logsigmoid(neg_scores).sum(dim=-1)).mean()
"""

MODULE_SQUEEZE = """\
class SGNS(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.V = nn.Embedding(vocab_size, dim)
        self.U = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.V.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.U.weight)

    def forward(self, centres, contexts, negatives):
        v = self.V(centres)
        pos = (self.U(contexts) * v).sum(dim=-1)
        # .squeeze() without a dim: B = 1 or k = 1 loses a dimension
        neg = torch.bmm(self.U(negatives), v.unsqueeze(2)).squeeze()
        return pos, neg
"""

MODULE_NEGATIVES_FROM_V = """\
class SGNS(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.V = nn.Embedding(vocab_size, dim)
        self.U = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.V.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.U.weight)

    def forward(self, centres, contexts, negatives):
        v = self.V(centres)
        pos = (self.U(contexts) * v).sum(dim=-1)
        # the negatives' centre vectors
        neg = torch.bmm(self.V(negatives), v.unsqueeze(2)).squeeze(2)
        return pos, neg
"""

STEP_LOSS_AFTER = """\
def sgns_step(model, centres, contexts, negatives, lr):
    with torch.no_grad():
        V, U = model.V.weight, model.U.weight
        words = torch.cat([contexts.unsqueeze(1), negatives], dim=1)
        v = F.embedding(centres, V)
        u = F.embedding(words, U)
        scores = torch.bmm(u, v.unsqueeze(2)).squeeze(2)
        coef = torch.sigmoid(scores)
        coef[:, 0] -= 1
        coef *= -lr
        V.index_add_(0, centres, torch.bmm(coef.unsqueeze(1), u).squeeze(1))
        U.index_add_(0, words.reshape(-1), (coef.unsqueeze(2) * v.unsqueeze(1)).flatten(0, 1))
        # the loss of the updated tables, not the loss the step was computed from
        after = torch.bmm(F.embedding(words, U), F.embedding(centres, V).unsqueeze(2)).squeeze(2)
        return -(F.logsigmoid(after[:, 0]) + F.logsigmoid(-after[:, 1:]).sum(dim=1)).mean()
"""

STEP_WRONG_SIGN = """\
def sgns_step(model, centres, contexts, negatives, lr):
    with torch.no_grad():
        V, U = model.V.weight, model.U.weight
        words = torch.cat([contexts.unsqueeze(1), negatives], dim=1)
        v = F.embedding(centres, V)
        u = F.embedding(words, U)
        scores = torch.bmm(u, v.unsqueeze(2)).squeeze(2)
        loss = -(F.logsigmoid(scores[:, 0]) + F.logsigmoid(-scores[:, 1:]).sum(dim=1)).mean()
        coef = torch.sigmoid(scores) - 1  # target 1 for the negatives too
        coef *= -lr
        V.index_add_(0, centres, torch.bmm(coef.unsqueeze(1), u).squeeze(1))
        U.index_add_(0, words.reshape(-1), (coef.unsqueeze(2) * v.unsqueeze(1)).flatten(0, 1))
    return loss
"""

STEP_INDEXED_ASSIGNMENT = """\
def sgns_step(model, centres, contexts, negatives, lr):
    with torch.no_grad():
        V, U = model.V.weight, model.U.weight
        words = torch.cat([contexts.unsqueeze(1), negatives], dim=1)
        v = F.embedding(centres, V)
        u = F.embedding(words, U)
        scores = torch.bmm(u, v.unsqueeze(2)).squeeze(2)
        loss = -(F.logsigmoid(scores[:, 0]) + F.logsigmoid(-scores[:, 1:]).sum(dim=1)).mean()
        coef = torch.sigmoid(scores)
        coef[:, 0] -= 1
        coef *= -lr
        V[centres] += torch.bmm(coef.unsqueeze(1), u).squeeze(1)  # a repeated row keeps one update
        U[words.reshape(-1)] += (coef.unsqueeze(2) * v.unsqueeze(1)).reshape(-1, v.shape[1])
    return loss
"""

_TRAIN = """\
def train_sgns(model, ids, sentence, noise, p_discard=None, *, window=5, k=5, epochs=1,
               batch_size=1024, lr=0.1, min_lr_ratio=1e-4, seed=0, log_every=100,
               show_progress=True):
    dev = ids.device
    gen = torch.Generator(device=dev).manual_seed(seed)
    table = unigram_table(noise.to(dev))
    before = torch.arange(window, 0, -1, device=dev)
    distance = torch.cat([before, torch.arange(1, window + 1, device=dev)])
    history = {"loss": [], "words": 0, "kept_words": 0, "pairs": 0, "seconds": 0.0}
    for epoch in range(epochs):
        start = time.perf_counter()
        @@GEN@@
        if p_discard is None:
            keep = torch.ones_like(ids, dtype=torch.bool)
        else:
            keep = subsample(ids, p_discard, gen)
        centre_pos, context_pos = extended_window(keep, sentence, window)
        reach = torch.randint(1, window + 1, (len(centre_pos), 1), generator=gen, device=dev)
        valid = @@VALID@@
        centres = ids[centre_pos].unsqueeze(1).expand_as(context_pos)[valid]
        contexts = ids[context_pos[valid]]
        order = torch.randperm(len(centres), generator=gen, device=dev)
        centres, contexts = centres[order], contexts[order]
        n_pairs = len(centres)
        running, in_group = torch.zeros((), device=dev), 0
        for s in progress(range(0, n_pairs, batch_size), disable=not show_progress, leave=False):
            rate = @@RATE@@
            c, o = centres[s:s + batch_size], contexts[s:s + batch_size]
            negatives = table[torch.randint(len(table), (len(c), k), generator=gen, device=dev)]
            @@LOSS@@
            in_group += 1
            if in_group == log_every or s + batch_size >= n_pairs:
                history["loss"].append(running.item() / in_group)
                running.zero_()
                in_group = 0
        history["seconds"] += time.perf_counter() - start
        history["words"] += len(ids)
        history["kept_words"] += int(keep.sum())
        history["pairs"] += n_pairs
    return history
"""

_DEFAULTS = {
    "@@GEN@@": "pass",
    "@@VALID@@": "(context_pos >= 0) & (distance <= reach)",
    "@@RATE@@": "lr * max(min_lr_ratio, 1 - (epoch + s / n_pairs) / epochs)",
    "@@LOSS@@": "running += sgns_step(model, c, o, negatives, rate)",
}


def _train(**changes: str) -> str:
    source = _TRAIN
    for key, default in _DEFAULTS.items():
        source = source.replace(key, changes.get(key, default))
    return source


TRAIN_LOG_LAST = _train(
    **{"@@LOSS@@": "running = (in_group + 1) * sgns_step(model, c, o, negatives, rate)"}
)
TRAIN_NO_DECAY = _train(**{"@@RATE@@": "lr  # no decay"})
TRAIN_SAME_ORDER = _train(**{"@@GEN@@": "gen.manual_seed(seed)  # every epoch: the same draws"})
TRAIN_NEGATIVES_DEFAULT_DEVICE = _train(
    **{
        "@@LOSS@@": "cells = torch.randint(len(table), (len(c), k), generator=gen)\n"
        "            negatives = table[cells.to(dev)]\n"
        "            running += sgns_step(model, c, o, negatives, rate)"
    }
)
TRAIN_SUBSAMPLE_ONCE = _train().replace(
    "        if p_discard is None:\n",
    "        if epoch > 0:\n"
    "            pass  # the first epoch's mask is used for every epoch\n"
    "        elif p_discard is None:\n",
)
TRAIN_STATIC_WINDOW = _train(**{"@@VALID@@": "context_pos >= 0  # the reach r is not used"})

SUBWORD_SET_PER_WORD = """\
def char_ngrams(word, n_min=3, n_max=5):
    if not word:
        raise ValueError("the word is empty")
    if n_min < 1 or n_max < n_min:
        raise ValueError("need 1 <= n_min <= n_max")
    marked = f"<{word}>"
    return [marked[i : i + n] for n in range(n_min, n_max + 1) for i in range(len(marked) - n + 1)]


def ngram_vectors(vectors, words, n_min=3, n_max=5):
    index, rows, grams = {}, [], []
    for row, word in enumerate(words):
        for gram in dict.fromkeys(char_ngrams(word, n_min, n_max)):  # each n-gram once per word
            rows.append(row)
            grams.append(index.setdefault(gram, len(index)))
    dev = vectors.device
    rows = torch.tensor(rows, device=dev)
    grams = torch.tensor(grams, device=dev)
    sums = torch.zeros(len(index), vectors.shape[1], dtype=vectors.dtype, device=dev)
    sums.index_add_(0, grams, vectors[rows])
    counts = torch.bincount(grams, minlength=len(index)).to(vectors.dtype)
    return index, sums / counts.unsqueeze(1)


def oov_vector(word, index, table, n_min=3, n_max=5):
    known = [index[g] for g in char_ngrams(word, n_min, n_max) if g in index]
    if not known:
        raise ValueError(f"no n-gram of {word!r} is known")
    return table[torch.tensor(known, device=table.device)].mean(dim=0)
"""

SUBWORD_INDEX_DEFAULT_DEVICE = SUBWORD_SET_PER_WORD.replace(
    "dict.fromkeys(char_ngrams(word, n_min, n_max))", "char_ngrams(word, n_min, n_max)"
).replace(
    "    return table[torch.tensor(known, device=table.device)].mean(dim=0)\n",
    "    return table[torch.tensor(known)].mean(dim=0)  # the index on the default device\n",
)

MUTANTS = [
    mutant(
        "noise_no_zero_guard",
        "noise_distribution",
        NOISE_NO_ZERO_GUARD,
        "noise_distribution_tests",
        "counts ** power without a guard: 0 ** 0 = 1 gives unseen words a share at power 0",
    ),
    mutant(
        "noise_no_validation",
        "noise_distribution",
        NOISE_NO_VALIDATION,
        "noise_distribution_tests",
        "no ValueError: nan for all-zero counts, negative counts accepted",
    ),
    mutant(
        "min_count_cpu_round_trip",
        "min_count_filter",
        MIN_COUNT_CPU,
        "min_count_filter_tests",
        "computes on the CPU and copies back",
    ),
    mutant(
        "min_count_no_error",
        "min_count_filter",
        MIN_COUNT_NO_ERROR,
        "min_count_filter_tests",
        "no ValueError for min_count < 1",
    ),
    mutant(
        "discard_no_clamp",
        "discard_probability",
        DISCARD_NO_CLAMP,
        "discard_probability_tests",
        "forgets the max(0, .): negative probabilities for rare words",
    ),
    mutant(
        "discard_no_error",
        "discard_probability",
        DISCARD_NO_ERROR,
        "discard_probability_tests",
        "no ValueError for t <= 0",
    ),
    mutant(
        "subsample_default_device",
        "subsample",
        SUBSAMPLE_DEFAULT_DEVICE,
        "subsample_tests",
        "the random numbers on the default device, not the data's",
    ),
    mutant(
        "subsample_strict",
        "subsample",
        SUBSAMPLE_STRICT,
        "subsample_tests",
        "keeps a token when u > P_d instead of u >= P_d",
    ),
    mutant(
        "window_default_device",
        "extended_window",
        WINDOW_DEFAULT_DEVICE,
        "extended_window_tests",
        "torch.arange without device=",
    ),
    mutant(
        "window_no_checks",
        "extended_window",
        WINDOW_NO_CHECKS,
        "extended_window_tests",
        "no ValueError for window 0 or mismatched shapes",
    ),
    mutant(
        "negatives_redraw_once",
        "sample_negatives",
        NEGATIVES_REDRAW_ONCE,
        "sample_negatives_tests",
        "clashes with exclude drawn again only once",
    ),
    mutant(
        "negatives_uniform",
        "sample_negatives",
        NEGATIVES_UNIFORM,
        "sample_negatives_tests",
        "negatives uniform over the vocabulary, not from the noise distribution",
    ),
    mutant("loss_sum_not_mean", "sgns_loss", LOSS_SUM, "sgns_loss_tests", "sums over the batch"),
    mutant(
        "loss_negative_sign",
        "sgns_loss",
        LOSS_NEGATIVE_SIGN,
        "sgns_loss_tests",
        "log sigma(s-) for the negatives instead of log sigma(-s-)",
    ),
    mutant(
        "module_squeeze_all",
        "sgns_module",
        MODULE_SQUEEZE,
        "sgns_module_tests",
        ".squeeze() without a dim: a batch of one loses its shape",
    ),
    mutant(
        "module_negatives_from_V",
        "sgns_module",
        MODULE_NEGATIVES_FROM_V,
        "sgns_module_tests",
        "the negatives' vectors taken from V instead of U",
    ),
    mutant(
        "step_loss_after_update",
        "sgns_step",
        STEP_LOSS_AFTER,
        "sgns_step_tests",
        "returns the loss after the update (the model trains the same)",
    ),
    mutant(
        "step_wrong_sign_negatives",
        "sgns_step",
        STEP_WRONG_SIGN,
        {"sgns_step_tests", "quality_tests"},
        "target 1 for the negatives: pushes them closer, and the trained vectors are poor",
    ),
    mutant(
        "train_log_last_batch",
        "train_sgns",
        TRAIN_LOG_LAST,
        "train_sgns_tests",
        "logs the loss of the last batch of each group, not the group's mean",
    ),
    mutant(
        "train_negatives_default_device",
        "train_sgns",
        TRAIN_NEGATIVES_DEFAULT_DEVICE,
        "train_sgns_tests",
        "the negatives' random cells drawn on the default device, then copied",
    ),
    mutant(
        "subword_ngram_once_per_word",
        "subword",
        SUBWORD_SET_PER_WORD,
        "subword_tests",
        "an n-gram that occurs twice in a word counts once in its mean",
    ),
    mutant(
        "subword_index_default_device",
        "subword",
        SUBWORD_INDEX_DEFAULT_DEVICE,
        "subword_tests",
        "oov_vector builds its row index without device=",
    ),
]

SUBMISSIONS = [
    [
        "noise_no_zero_guard",
        "min_count_cpu_round_trip",
        "discard_no_clamp",
        "subsample_default_device",
        "window_default_device",
        "negatives_redraw_once",
        "loss_sum_not_mean",
        "module_squeeze_all",
        "step_loss_after_update",
        "train_log_last_batch",
        "subword_ngram_once_per_word",
    ],
    [
        "noise_no_validation",
        "min_count_no_error",
        "discard_no_error",
        "subsample_strict",
        "window_no_checks",
        "negatives_uniform",
        "loss_negative_sign",
        "module_negatives_from_V",
        "step_wrong_sign_negatives",
        "train_negatives_default_device",
        "subword_index_default_device",
    ],
]

# Bugs that change the training run of section 9, so that whether the WordSim-353 cell keeps its
# points is not known without a training run of their own (about 20 s of CPU each, more on a busy
# grader): each is caught by its exercise's hidden tests (checked cell by cell), and they are left
# out of MUTANTS to keep this lab's mutation test to three training runs.
TRAINING_BUGS = {
    "train_no_decay": ("train_sgns", TRAIN_NO_DECAY, "train_sgns_tests"),
    "train_same_order_every_epoch": ("train_sgns", TRAIN_SAME_ORDER, "train_sgns_tests"),
    "train_static_window": ("train_sgns", TRAIN_STATIC_WINDOW, "train_sgns_tests"),
    "train_subsample_once": ("train_sgns", TRAIN_SUBSAMPLE_ONCE, "train_sgns_tests"),
    "step_indexed_assignment": ("sgns_step", STEP_INDEXED_ASSIGNMENT, "sgns_step_tests"),
}

"""Lab 6: realistic student bugs for the mutation tests (``tests/test_mutants.py``).

The typical bug (``tests/typical_bugs``) is the surrogate without ``detach()``; these are
others. ``unigram_noise_tests`` measures the noise sampler's bias with the student's own
``mc_gradient`` and ``bias_and_variance``, so a bug there that changes the measured numbers
costs that cell too (its tolerances come from the maths, so a bug in how the generator is
used does not).
"""

from __future__ import annotations

from mutants import mutant

_F_CHECKS = """\
    if centres.dim() != 1 or centres.shape != contexts.shape:
        raise ValueError("centres and contexts must be 1-D of the same length")
    if U.dim() != 2 or U.shape != V.shape:
        raise ValueError("U and V must be two (|V|, d) tables")
"""

_MC_CHECKS = """\
    if not (isinstance(K, int) and K >= 1 and isinstance(R, int) and R >= 1):
        raise ValueError("K and R must be positive integers")
"""

_BV_CHECKS = """\
    if estimates.dim() != 2 or estimates.shape[0] < 2 or exact.shape != estimates.shape[1:]:
        raise ValueError("expected estimates (R >= 2, d) and exact (d,)")
"""

_ND_CHECKS = """\
    if counts.dim() != 1:
        raise ValueError("counts must be 1-D")
    counts = counts.double()
    if (counts < 0).any() or not (counts > 0).any():
        raise ValueError("counts must be non-negative, with a positive entry")
"""

_RO_CHECKS = """\
    if s_pos.dim() != 1 or s_neg.dim() != 2 or s_neg.shape[0] != s_pos.shape[0]:
        raise ValueError("expected s_pos (B,) and s_neg (B, K)")
"""

_NCE_CHECKS = """\
    if (
        s_pos.dim() != 1
        or s_neg.dim() != 2
        or s_neg.shape[0] != s_pos.shape[0]
        or s_neg.shape[1] < 1
        or log_noise_pos.shape != s_pos.shape
        or log_noise_neg.shape != s_neg.shape
    ):
        raise ValueError("expected s_pos (B,), s_neg (B, K >= 1) and log-noise of those shapes")
"""
_NCE_DEF = "def nce_pair_losses(s_pos, s_neg, log_noise_pos, log_noise_neg):\n" + _NCE_CHECKS
_NCE_LOGITS = (  # the reference's logits, for the mutants whose bug comes after them
    _NCE_DEF
    + """\
    log_k = math.log(s_neg.shape[1])
    logit_pos = s_pos - log_k - log_noise_pos
    logit_neg = s_neg - log_k - log_noise_neg
"""
)

SURROGATE, MC, BV, NOISE, RECT, NCE = (
    "surrogate_F",
    "mc_gradient",
    "bias_and_variance",
    "unigram_noise",
    "rectified_objective",
    "nce_pair_losses",
)
T_SURROGATE, T_MC, T_BV, T_NOISE, T_RECT, T_NCE = (
    f"{name}_tests" for name in (SURROGATE, MC, BV, NOISE, RECT, NCE)
)

MUTANTS = [
    # --- surrogate_F -------------------------------------------------------------------------
    mutant(
        "softmax_without_max_subtraction",
        SURROGATE,
        "def surrogate_F(U, V, centres, contexts):\n"
        + _F_CHECKS
        + """\
    scores = V[centres] @ U.T
    e = torch.exp(scores)
    p = (e / e.sum(dim=-1, keepdim=True)).detach()  # overflows once a score passes ~709
    observed = scores.gather(1, contexts.unsqueeze(1)).squeeze(1)
    return (p * scores).sum(dim=-1) - observed
""",
        T_SURROGATE,
        "softmax by hand without subtracting the max: nan at large scores",
    ),
    mutant(
        "surrogate_wrong_sign",
        SURROGATE,
        "def surrogate_F(U, V, centres, contexts):\n"
        + _F_CHECKS
        + """\
    scores = V[centres] @ U.T
    p = torch.softmax(scores, dim=-1).detach()
    observed = scores.gather(1, contexts.unsqueeze(1)).squeeze(1)
    return observed - (p * scores).sum(dim=-1)
""",
        T_SURROGATE,
        "observed minus expected: the gradient ascends the loss",
    ),
    mutant(
        "surrogate_detaches_the_scores",
        SURROGATE,
        "def surrogate_F(U, V, centres, contexts):\n"
        + _F_CHECKS
        + """\
    scores = V[centres] @ U.T
    p = torch.softmax(scores, dim=-1)
    observed = scores.gather(1, contexts.unsqueeze(1)).squeeze(1)
    return (p * scores).sum(dim=-1).detach() - observed  # the expectation loses its gradient
""",
        T_SURROGATE,
        "stop-gradient on the whole expected score, not only on p",
    ),
    # --- mc_gradient -------------------------------------------------------------------------
    mutant(
        "mc_ignores_probs",
        MC,
        "def mc_gradient(U, v_c, o, K, R, generator=None, probs=None):\n"
        + _MC_CHECKS
        + """\
    p = torch.softmax(U @ v_c, dim=0)  # always the model's p, even when probs is given
    draws = torch.multinomial(p.expand(R, -1), K, replacement=True, generator=generator)
    return U[draws].mean(dim=1) - U[o]
""",
        {T_MC, T_NOISE},
        "samples from the model's p when probs (the noise) is given",
    ),
    mutant(
        "mc_sum_over_samples",
        MC,
        "def mc_gradient(U, v_c, o, K, R, generator=None, probs=None):\n"
        + _MC_CHECKS
        + """\
    q = torch.softmax(U @ v_c, dim=0) if probs is None else probs
    draws = torch.multinomial(q.expand(R, -1), K, replacement=True, generator=generator)
    return U[draws].sum(dim=1) - U[o]  # sum, not mean, of the K draws
""",
        {T_MC, T_NOISE},
        "sum instead of mean over the K samples",
    ),
    mutant(
        "mc_global_rng",
        MC,
        "def mc_gradient(U, v_c, o, K, R, generator=None, probs=None):\n"
        + _MC_CHECKS
        + """\
    q = torch.softmax(U @ v_c, dim=0) if probs is None else probs
    draws = torch.multinomial(q.expand(R, -1), K, replacement=True)  # the generator is ignored
    return U[draws].mean(dim=1) - U[o]
""",
        T_MC,
        "draws from the global random state instead of the given generator",
    ),
    mutant(
        "mc_o_on_default_device",
        MC,
        "def mc_gradient(U, v_c, o, K, R, generator=None, probs=None):\n"
        + _MC_CHECKS
        + """\
    q = torch.softmax(U @ v_c, dim=0) if probs is None else probs
    draws = torch.multinomial(q.expand(R, -1), K, replacement=True, generator=generator)
    o = torch.as_tensor(o)  # lands on the default device, not U's
    return U[draws].mean(dim=1) - U[o]
""",
        T_MC,
        "makes a tensor of o on the default device",
    ),
    mutant(
        "mc_probs_without_max_subtraction",
        MC,
        "def mc_gradient(U, v_c, o, K, R, generator=None, probs=None):\n"
        + _MC_CHECKS
        + """\
    if probs is None:
        e = torch.exp(U @ v_c)  # inf at large scores, then nan probabilities
        probs = e / e.sum()
    draws = torch.multinomial(probs.expand(R, -1), K, replacement=True, generator=generator)
    return U[draws].mean(dim=1) - U[o]
""",
        T_MC,
        "softmax by hand without subtracting the max",
    ),
    mutant(
        "mc_normalises_probs_in_place",
        MC,
        "def mc_gradient(U, v_c, o, K, R, generator=None, probs=None):\n"
        + _MC_CHECKS
        + """\
    if probs is None:
        probs = torch.softmax(U @ v_c, dim=0)
    else:
        probs /= probs.sum()  # normalises the caller's tensor
    draws = torch.multinomial(probs.expand(R, -1), K, replacement=True, generator=generator)
    return U[draws].mean(dim=1) - U[o]
""",
        T_MC,
        "normalises the given probs in place",
    ),
    mutant(
        "mc_one_draw_set_for_all_rows",
        MC,
        "def mc_gradient(U, v_c, o, K, R, generator=None, probs=None):\n"
        + _MC_CHECKS
        + """\
    q = torch.softmax(U @ v_c, dim=0) if probs is None else probs
    draws = torch.multinomial(q, K, replacement=True, generator=generator)  # one set of K words
    return (U[draws].mean(dim=0) - U[o]).expand(R, -1)  # the R estimates are not independent
""",
        {T_MC, T_NOISE},
        "the R rows share the same K draws",
    ),
    # --- bias_and_variance -------------------------------------------------------------------
    mutant(
        "variance_divided_by_R",
        BV,
        "def bias_and_variance(estimates, exact):\n"
        + _BV_CHECKS
        + """\
    mean = estimates.mean(dim=0)
    bias = torch.linalg.vector_norm(mean - exact)
    return bias, (estimates - mean).pow(2).sum() / estimates.shape[0]
""",
        T_BV,
        "R instead of R - 1",
    ),
    mutant(
        "variance_one_pass",
        BV,
        "def bias_and_variance(estimates, exact):\n"
        + _BV_CHECKS
        + """\
    R = estimates.shape[0]
    mean = estimates.mean(dim=0)
    bias = torch.linalg.vector_norm(mean - exact)
    variance = (estimates.pow(2).sum() / R - mean.pow(2).sum()) * R / (R - 1)  # E[x^2] - E[x]^2
    return bias, variance
""",
        T_BV,
        "one-pass variance: catastrophic cancellation on values far from 0",
    ),
    mutant(
        "variance_centres_in_place",
        BV,
        "def bias_and_variance(estimates, exact):\n"
        + _BV_CHECKS
        + """\
    mean = estimates.mean(dim=0)
    bias = torch.linalg.vector_norm(mean - exact)
    estimates -= mean  # centres the caller's tensor
    return bias, estimates.pow(2).sum() / (estimates.shape[0] - 1)
""",
        T_BV,
        "subtracts the mean from the input in place",
    ),
    mutant(
        "bias_squared",
        BV,
        "def bias_and_variance(estimates, exact):\n"
        + _BV_CHECKS
        + """\
    mean = estimates.mean(dim=0)
    bias = (mean - exact).pow(2).sum()  # the squared norm
    return bias, (estimates - mean).pow(2).sum() / (estimates.shape[0] - 1)
""",
        {T_BV, T_NOISE},
        "squared distance instead of the distance",
    ),
    # --- unigram_noise -----------------------------------------------------------------------
    mutant(
        "noise_zero_to_the_zero",
        NOISE,
        "def unigram_noise(counts, power=0.75):\n"
        + _ND_CHECKS
        + """\
    weights = counts ** power  # 0 ** 0 = 1: unseen words get mass at power 0
    return weights / weights.sum()
""",
        T_NOISE,
        "no mask for the zero counts",
    ),
    mutant(
        "noise_float32",
        NOISE,
        "def unigram_noise(counts, power=0.75):\n"
        + _ND_CHECKS
        + """\
    counts = counts.float()
    weights = torch.where(counts > 0, counts ** power, torch.zeros_like(counts))
    return weights / weights.sum()  # float32, as in lab 5
""",
        T_NOISE,
        "float32 instead of float64",
    ),
    mutant(
        "noise_zeros_on_default_device",
        NOISE,
        "def unigram_noise(counts, power=0.75):\n"
        + _ND_CHECKS
        + """\
    zeros = torch.zeros(counts.shape[0], dtype=torch.float64)  # on the default device
    weights = torch.where(counts > 0, counts ** power, zeros)
    return weights / weights.sum()
""",
        T_NOISE,
        "a tensor of zeros made on the default device",
    ),
    # --- rectified_objective -----------------------------------------------------------------
    mutant(
        "rectified_ignores_kappa",
        RECT,
        "def rectified_objective(s_pos, s_neg, kappa=None):\n"
        + _RO_CHECKS
        + """\
    return F.softplus(-s_pos) + F.softplus(s_neg).sum(dim=-1)
""",
        T_RECT,
        "kappa ignored: always the sum of the negatives",
    ),
    mutant(
        "rectified_mean_of_negatives",
        RECT,
        "def rectified_objective(s_pos, s_neg, kappa=None):\n"
        + _RO_CHECKS
        + """\
    K = s_neg.shape[1]
    weight = 1.0 if kappa is None else kappa
    return F.softplus(-s_pos) + weight * F.softplus(s_neg).mean(dim=-1)  # kappa=None: the mean
""",
        T_RECT,
        "mean instead of sum over the negatives when kappa is K",
    ),
    mutant(
        "rectified_naive_softplus",
        RECT,
        "def rectified_objective(s_pos, s_neg, kappa=None):\n"
        + _RO_CHECKS
        + """\
    K = s_neg.shape[1]
    weight = 1.0 if kappa is None else kappa / K
    softplus = lambda x: torch.log(1 + torch.exp(x))  # noqa: E731  overflows at large scores
    return softplus(-s_pos) + weight * softplus(s_neg).sum(dim=-1)
""",
        T_RECT,
        "log(1 + exp(x)) by hand: inf at large scores",
    ),
    mutant(
        "rectified_wrong_signs",
        RECT,
        "def rectified_objective(s_pos, s_neg, kappa=None):\n"
        + _RO_CHECKS
        + """\
    K = s_neg.shape[1]
    weight = 1.0 if kappa is None else kappa / K
    return F.softplus(s_pos) + weight * F.softplus(-s_neg).sum(dim=-1)
""",
        T_RECT,
        "penalises the right signs instead of the wrong ones",
    ),
    mutant(
        "rectified_with_logsigmoid",
        RECT,
        "def rectified_objective(s_pos, s_neg, kappa=None):\n"
        + _RO_CHECKS
        + """\
    K = s_neg.shape[1]
    weight = 1.0 if kappa is None else kappa / K
    return -F.logsigmoid(s_pos) - weight * F.logsigmoid(-s_neg).sum(dim=-1)
""",
        T_RECT,
        "lab 5's F.logsigmoid, which the exercise refuses",
    ),
    mutant(
        "rectified_negates_in_place",
        RECT,
        "def rectified_objective(s_pos, s_neg, kappa=None):\n"
        + _RO_CHECKS
        + """\
    K = s_neg.shape[1]
    weight = 1.0 if kappa is None else kappa / K
    return F.softplus(s_pos.neg_()) + weight * F.softplus(s_neg).sum(dim=-1)  # flips the input
""",
        T_RECT,
        "negates the caller's s_pos in place",
    ),
    # --- nce_pair_losses ---------------------------------------------------------------------
    mutant(
        "nce_without_log_k",
        NCE,
        _NCE_DEF
        + """\
    logit_pos = s_pos - log_noise_pos  # the log k of k P_n is missing
    logit_neg = s_neg - log_noise_neg
    return F.softplus(-logit_pos) + F.softplus(logit_neg).sum(dim=-1)
""",
        T_NCE,
        "corrects by log P_n only, forgetting log k",
    ),
    mutant(
        "nce_corrects_only_the_negatives",
        NCE,
        _NCE_DEF
        + """\
    log_k = math.log(s_neg.shape[1])
    logit_neg = s_neg - log_k - log_noise_neg
    return F.softplus(-s_pos) + F.softplus(logit_neg).sum(dim=-1)  # the observed word uncorrected
""",
        T_NCE,
        "the correction on the noise words only",
    ),
    mutant(
        "nce_mean_of_negatives",
        NCE,
        _NCE_LOGITS
        + """\
    return F.softplus(-logit_pos) + F.softplus(logit_neg).mean(dim=-1)  # mean, not sum
""",
        T_NCE,
        "averages the K noise terms instead of summing them",
    ),
    mutant(
        "nce_log_of_sigmoid",
        NCE,
        _NCE_LOGITS
        + """\
    # log(sigmoid(x)) is -inf once sigmoid(x) rounds to 0
    return -torch.log(torch.sigmoid(logit_pos)) - torch.log(torch.sigmoid(-logit_neg)).sum(dim=-1)
""",
        T_NCE,
        "torch.log(torch.sigmoid(x)): inf at large scores",
    ),
]

# Mutants of different cells whose failures do not overlap share a kernel. unigram_noise_tests
# uses mc_gradient and bias_and_variance, so a mutant of unigram_noise never shares a kernel
# with one of those two, and the mutants of those two packed here leave that cell passing.
# nce_pair_losses_tests uses no other answer cell (only the provided sgns_pair_losses).
SUBMISSIONS = [
    [
        "softmax_without_max_subtraction",
        "mc_global_rng",
        "variance_divided_by_R",
        "rectified_ignores_kappa",
        "nce_without_log_k",
    ],
    [
        "surrogate_wrong_sign",
        "mc_o_on_default_device",
        "variance_one_pass",
        "rectified_mean_of_negatives",
        "nce_corrects_only_the_negatives",
    ],
    [
        "surrogate_detaches_the_scores",
        "mc_probs_without_max_subtraction",
        "variance_centres_in_place",
        "rectified_naive_softplus",
        "nce_mean_of_negatives",
    ],
    ["noise_zero_to_the_zero", "rectified_wrong_signs", "nce_log_of_sigmoid"],
    ["noise_float32", "rectified_with_logsigmoid"],
    ["noise_zeros_on_default_device", "rectified_negates_in_place"],
]

"""Lab 5: three typical bugs in one submission.

The noise distribution without the 3/4 power (plain unigram frequencies), the SGNS loss with
``log(sigmoid(x))`` (``-inf`` and ``nan`` gradients for scores of +-100), and subsampling with
the comparison the wrong way round (frequent words kept, rare words dropped).
"""

BUGS = {
    "noise_distribution": """\
def noise_distribution(counts, power=0.75):
    counts = torch.as_tensor(counts).to(torch.float32)
    if counts.ndim != 1:
        raise ValueError("counts must be 1-D")
    if (counts < 0).any():
        raise ValueError("counts must be non-negative")
    if counts.sum() <= 0:
        raise ValueError("every count is zero")
    return counts / counts.sum()
""",
    "sgns_loss": """\
def sgns_loss(pos_scores, neg_scores):
    if neg_scores.shape[:-1] != pos_scores.shape:
        raise ValueError("neg_scores must have shape pos_scores.shape + (k,)")
    positive = torch.log(torch.sigmoid(pos_scores))
    negative = torch.log(torch.sigmoid(-neg_scores)).sum(dim=-1)
    return -(positive + negative).mean()
""",
    "subsample": """\
def subsample(ids, p_discard, generator):
    u = torch.rand(ids.shape, generator=generator, device=ids.device)
    return u < p_discard[ids]
""",
}
# each bug fails its own test; the training loop's tests do not depend on them, but the notebook's
# training run does: rare words dropped and frequent ones kept, the updates of the few kept words
# pile up in each batch and the vectors diverge (nan), so the WordSim-353 bar is lost too
FAILS = {"noise_distribution_tests", "sgns_loss_tests", "subsample_tests", "quality_tests"}

"""Lab 6: the surrogate F without detach(), so autograd also differentiates p (wrong gradient)."""

BUGS = {
    "surrogate_F": """\
def surrogate_F(U, V, centres, contexts):
    if centres.dim() != 1 or centres.shape != contexts.shape:
        raise ValueError("centres and contexts must be 1-D of the same length")
    if U.dim() != 2 or U.shape != V.shape:
        raise ValueError("U and V must be two (|V|, d) tables")
    scores = V[centres] @ U.T
    p = torch.softmax(scores, dim=-1)  # the bug: no .detach(), so the gradient flows through p
    observed = scores.gather(1, contexts.unsqueeze(1)).squeeze(1)
    return (p * scores).sum(dim=-1) - observed
""",
}
# the values of F are right, its gradient is not; no other graded cell calls surrogate_F
FAILS = {"surrogate_F_tests"}

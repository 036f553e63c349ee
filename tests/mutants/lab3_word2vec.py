"""Lab 3: realistic student bugs in the pairs, the worked example, the module, the stable
log-softmax and the hand-written gradient (see ``tests/mutants/__init__.py``)."""

from __future__ import annotations

from mutants import mutant

PAIRS_HEAD = """\
def skipgram_pairs(sentences, window):
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}")
    tensors = [torch.as_tensor(s, dtype=torch.long) for s in sentences]
    if not tensors:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    dev = tensors[0].device
    tokens = torch.cat(tensors)
    n = tokens.numel()
    lengths = torch.tensor([len(t) for t in tensors], device=dev)
    sentence_of = torch.repeat_interleave(torch.arange(len(tensors), device=dev), lengths)
"""

PAIRS_TAIL = """\
    positions = torch.arange(n, device=dev)[:, None] + offsets
    clamped = positions.clamp(0, max(n - 1, 0))
    valid = (positions >= 0) & (positions < n) & (sentence_of[clamped] == sentence_of[:, None])
    return tokens[:, None].expand_as(positions)[valid], tokens[clamped][valid]
"""

OFFSETS = (
    "    offsets = torch.cat([torch.arange(-window, 0, device=dev), "
    "torch.arange(1, window + 1, device=dev)])\n"
)

CROSSES_SENTENCES = (
    PAIRS_HEAD
    + OFFSETS
    + """\
    positions = torch.arange(n, device=dev)[:, None] + offsets
    clamped = positions.clamp(0, max(n - 1, 0))
    valid = (positions >= 0) & (positions < n)  # the bug: no check of the sentence
    return tokens[:, None].expand_as(positions)[valid], tokens[clamped][valid]
"""
)

ORDER_BY_OFFSET = (
    PAIRS_HEAD
    + OFFSETS
    + """\
    positions = torch.arange(n, device=dev)[:, None] + offsets
    clamped = positions.clamp(0, max(n - 1, 0))
    valid = (positions >= 0) & (positions < n) & (sentence_of[clamped] == sentence_of[:, None])
    # the bug: flattened offset by offset (column by column), not centre by centre
    return tokens[:, None].expand_as(positions).T[valid.T], tokens[clamped].T[valid.T]
"""
)

WINDOW_TOO_SMALL = (
    PAIRS_HEAD + "    offsets = torch.cat([torch.arange(-window + 1, 0, device=dev), "
    "torch.arange(1, window, device=dev)])  # the bug: range(1, window) stops one short\n"
    + PAIRS_TAIL
)

OFFSETS_ON_DEFAULT_DEVICE = (
    PAIRS_HEAD + "    offsets = torch.tensor([j for j in range(-window, window + 1) if j != 0])"
    "  # the bug: no device=\n" + PAIRS_TAIL
)

FORWARD_SOFTMAX_AXIS0 = """\
def forward_by_hand(x, W_in, W_out):
    hidden = x @ W_in
    logits = hidden @ W_out
    return hidden, logits, torch.softmax(logits, dim=0)  # the bug: over the batch
"""

FORWARD_LOOKUP = """\
def forward_by_hand(x, W_in, W_out):
    hidden = W_in[x.argmax(dim=-1)]  # the bug: a look-up of the one-hot position, not a product
    logits = hidden @ W_out
    return hidden, logits, torch.softmax(logits, dim=-1)
"""

W2V_INIT = """\
class Word2Vec(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.V = nn.Embedding(vocab_size, dim)
        self.U = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.V.weight, std=1 / dim)  # the bug: std 1/d, not 1/sqrt(d)
        nn.init.normal_(self.U.weight, std=1 / dim)

    def forward(self, centres):
        if centres.dim() != 1:
            raise ValueError("centres must be 1-D")
        return self.V(centres) @ self.U.weight.T
"""

W2V_SWAPPED = """\
class Word2Vec(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.V = nn.Embedding(vocab_size, dim)
        self.U = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.V.weight, std=dim ** -0.5)
        nn.init.normal_(self.U.weight, std=dim ** -0.5)

    def forward(self, centres):
        if centres.dim() != 1:
            raise ValueError("centres must be 1-D")
        return self.U(centres) @ self.V.weight.T  # the bug: the two tables swapped
"""

W2V_SOFTMAX = """\
class Word2Vec(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.V = nn.Embedding(vocab_size, dim)
        self.U = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.V.weight, std=dim ** -0.5)
        nn.init.normal_(self.U.weight, std=dim ** -0.5)

    def forward(self, centres):
        if centres.dim() != 1:
            raise ValueError("centres must be 1-D")
        return torch.softmax(self.V(centres) @ self.U.weight.T, dim=-1)  # the bug: probabilities
"""

W2V_NO_CHECK = """\
class Word2Vec(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.V = nn.Embedding(vocab_size, dim)
        self.U = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.V.weight, std=dim ** -0.5)
        nn.init.normal_(self.U.weight, std=dim ** -0.5)

    def forward(self, centres):
        # the bug: a (B, k) batch is accepted and gives a (B, k, |V|) tensor
        return self.V(centres) @ self.U.weight.T
"""

NLL = """

def softmax_nll(logits, targets):
    if targets.shape != logits.shape[:-1]:
        raise ValueError("targets do not match the logits")
    return -log_softmax(logits).gather(-1, targets.unsqueeze(-1)).squeeze(-1).mean()
"""

LOG_SOFTMAX_NAIVE = (
    """\
def log_softmax(logits):
    # the bug: no shift, exp overflows for large scores
    return logits - logits.exp().sum(dim=-1, keepdim=True).log()
"""
    + NLL
)

LOG_SOFTMAX_OF_SOFTMAX = (
    """\
def log_softmax(logits):
    # the bug: stable softmax, then log: -inf where the probability underflows
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    e = shifted.exp()
    return (e / e.sum(dim=-1, keepdim=True)).log()
"""
    + NLL
)

LOG_SOFTMAX_IN_PLACE = (
    """\
def log_softmax(logits):
    logits -= logits.max(dim=-1, keepdim=True).values.detach()  # the bug: changes the input
    return logits - logits.exp().sum(dim=-1, keepdim=True).log()
"""
    + NLL
)

LOG_SOFTMAX_LIBRARY = (
    """\
def log_softmax(logits):
    return logits - logits.logsumexp(dim=-1, keepdim=True)  # the bug: the library shortcut
"""
    + NLL
)

NLL_SUM = """\
def log_softmax(logits):
    shift = logits.max(dim=-1, keepdim=True).values.detach()
    shifted = logits - shift
    return shifted - shifted.exp().sum(dim=-1, keepdim=True).log()


def softmax_nll(logits, targets):
    if targets.shape != logits.shape[:-1]:
        raise ValueError("targets do not match the logits")
    log_p = log_softmax(logits)
    return -log_p[torch.arange(len(targets), device=logits.device), targets].sum()  # the bug: sum
"""

GRAD_HEAD = """\
def nll_gradients(U, v_c, o):
    if v_c.dim() != 2 or U.dim() != 2 or v_c.shape[1] != U.shape[1] or o.shape != v_c.shape[:1]:
        raise ValueError(f"bad shapes {tuple(U.shape)}, {tuple(v_c.shape)}, {tuple(o.shape)}")
"""

GRAD_ENABLE_GRAD = (
    GRAD_HEAD
    + """\
    with torch.enable_grad():  # the bug: autograd switched back on
        U_leaf = U.detach().clone().requires_grad_(True)
        v_leaf = v_c.detach().clone().requires_grad_(True)
        loss = F.cross_entropy(v_leaf @ U_leaf.T, o, reduction="sum")
        g_v, g_U = torch.autograd.grad(loss, (v_leaf, U_leaf))
    return g_v, g_U
"""
)

GRAD_INFERENCE_OFF = (
    GRAD_HEAD
    + """\
    with torch.inference_mode(False), torch.set_grad_enabled(True):  # the bug: autograd again
        U_leaf = U.clone().requires_grad_(True)
        v_leaf = v_c.clone().requires_grad_(True)
        F.cross_entropy(v_leaf @ U_leaf.T, o, reduction="sum").backward()
    return v_leaf.grad.detach(), U_leaf.grad.detach()
"""
)

GRAD_NO_ACCUMULATION = (
    GRAD_HEAD
    + """\
    p = torch.softmax(v_c @ U.T, dim=-1)
    grad_v_c = p @ U - U[o]
    grad_U = p.T @ v_c
    grad_U[o] -= v_c  # the bug: a repeated target keeps only one of its updates
    return grad_v_c, grad_U
"""
)

GRAD_SIGN = (
    GRAD_HEAD
    + """\
    p = torch.softmax(v_c @ U.T, dim=-1)
    error = F.one_hot(o, U.shape[0]).to(p.dtype) - p  # the bug: e_o - p, the gradient of log p
    return error @ U, error.T @ v_c
"""
)

GRAD_DEFAULT_DEVICE = (
    GRAD_HEAD
    + """\
    p = torch.softmax(v_c @ U.T, dim=-1)
    onehot = torch.zeros(len(o), U.shape[0], dtype=p.dtype)  # the bug: no device=
    onehot[torch.arange(len(o)), o] = 1.0
    error = p - onehot
    return error @ U, error.T @ v_c
"""
)

P, FW, W2V, LS, G = (
    "skipgram_pairs_tests",
    "forward_by_hand_tests",
    "word2vec_tests",
    "stable_softmax_tests",
    "nll_gradients_tests",
)

MUTANTS = [
    mutant(
        "pairs_cross_sentences",
        "skipgram_pairs",
        CROSSES_SENTENCES,
        P,
        "windows run over the sentence boundary",
    ),
    mutant(
        "pairs_order_by_offset",
        "skipgram_pairs",
        ORDER_BY_OFFSET,
        P,
        "the pairs come offset by offset, not centre by centre",
    ),
    mutant(
        "pairs_window_off_by_one", "skipgram_pairs", WINDOW_TOO_SMALL, P, "offsets up to m - 1 only"
    ),
    mutant(
        "pairs_offsets_on_default_device",
        "skipgram_pairs",
        OFFSETS_ON_DEFAULT_DEVICE,
        P,
        "the offsets tensor is made on the default device",
    ),
    mutant(
        "forward_softmax_over_batch",
        "forward_by_hand",
        FORWARD_SOFTMAX_AXIS0,
        FW,
        "softmax along the wrong axis",
    ),
    mutant(
        "forward_lookup_not_product",
        "forward_by_hand",
        FORWARD_LOOKUP,
        FW,
        "argmax look-up instead of the product (wrong for two-hot rows)",
    ),
    mutant("w2v_init_std_1_over_d", "word2vec", W2V_INIT, W2V, "initial std 1/d"),
    mutant("w2v_tables_swapped", "word2vec", W2V_SWAPPED, W2V, "U for centres, V for contexts"),
    mutant("w2v_returns_probabilities", "word2vec", W2V_SOFTMAX, W2V, "softmax in forward"),
    mutant("w2v_accepts_2d_batch", "word2vec", W2V_NO_CHECK, W2V, "no ValueError on a 2-D batch"),
    mutant(
        "log_softmax_no_shift", "stable_softmax", LOG_SOFTMAX_NAIVE, LS, "no max shift: overflow"
    ),
    mutant(
        "log_softmax_log_of_softmax",
        "stable_softmax",
        LOG_SOFTMAX_OF_SOFTMAX,
        LS,
        "log of a stable softmax: -inf on underflow",
    ),
    mutant(
        "log_softmax_in_place",
        "stable_softmax",
        LOG_SOFTMAX_IN_PLACE,
        LS,
        "subtracts the max from the input in place",
    ),
    mutant(
        "log_softmax_library",
        "stable_softmax",
        LOG_SOFTMAX_LIBRARY,
        LS,
        "Tensor.logsumexp: the forbidden shortcut",
    ),
    mutant("nll_sum_not_mean", "stable_softmax", NLL_SUM, LS, "the batch loss summed"),
    mutant(
        "grad_enable_grad",
        "nll_gradients",
        GRAD_ENABLE_GRAD,
        G,
        "autograd re-enabled with torch.enable_grad",
    ),
    mutant(
        "grad_inference_mode_off",
        "nll_gradients",
        GRAD_INFERENCE_OFF,
        G,
        "autograd re-enabled with inference_mode(False) and set_grad_enabled",
    ),
    mutant(
        "grad_repeated_targets",
        "nll_gradients",
        GRAD_NO_ACCUMULATION,
        G,
        "indexed -= drops repeated targets",
    ),
    mutant(
        "grad_wrong_sign", "nll_gradients", GRAD_SIGN, G, "the gradient of log p, not of -log p"
    ),
    mutant(
        "grad_onehot_default_device",
        "nll_gradients",
        GRAD_DEFAULT_DEVICE,
        G,
        "the one-hot matrix made on the default device",
    ),
]

# one mutant per answer cell in each submission: the test cells use only their own exercise
SUBMISSIONS = [
    [
        "pairs_cross_sentences",
        "forward_softmax_over_batch",
        "w2v_init_std_1_over_d",
        "log_softmax_no_shift",
        "grad_enable_grad",
    ],
    [
        "pairs_order_by_offset",
        "forward_lookup_not_product",
        "w2v_tables_swapped",
        "log_softmax_log_of_softmax",
        "grad_inference_mode_off",
    ],
    [
        "pairs_window_off_by_one",
        "w2v_returns_probabilities",
        "log_softmax_in_place",
        "grad_repeated_targets",
    ],
    [
        "pairs_offsets_on_default_device",
        "w2v_accepts_2d_batch",
        "log_softmax_library",
        "grad_wrong_sign",
    ],
    ["nll_sum_not_mean", "grad_onehot_default_device"],
]

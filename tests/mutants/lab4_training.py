"""Lab 4: realistic student bugs in the entropies, the data loader, the training loop, the CBOW
windows and module, and prediction (see ``tests/mutants/__init__.py``)."""

from __future__ import annotations

from mutants import mutant

ENTROPY_NAN = """\
def entropy(p):
    return -(p * p.log()).sum(dim=-1)  # the bug: 0 * log 0 is nan


def cross_entropy(q, p):
    if q.shape != p.shape:
        raise ValueError("q and p must have the same shape")
    return -torch.xlogy(q, p).sum(dim=-1)
"""

CE_CLAMPED = """\
def entropy(p):
    return -torch.xlogy(p, p).sum(dim=-1)


def cross_entropy(q, p):
    if q.shape != p.shape:
        raise ValueError("q and p must have the same shape")
    # the bug: p is clamped, so a happening outcome with p = 0 gets a finite loss, not +inf
    return -(q * p.clamp_min(1e-12).log()).sum(dim=-1)
"""

ENTROPY_WRONG_AXIS = """\
def entropy(p):
    return -torch.xlogy(p, p).sum(dim=0)  # the bug: sums over the batch


def cross_entropy(q, p):
    if q.shape != p.shape:
        raise ValueError("q and p must have the same shape")
    return -torch.xlogy(q, p).sum(dim=0)
"""

LOADER_CLASS = """\
class PairDataset(Dataset):
    def __init__(self, inputs, targets):
        if len(inputs) != len(targets):
            raise ValueError("inputs and targets must have the same length")
        self.inputs, self.targets = inputs, targets

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self.inputs[index], self.targets[index]

"""

LOADER_FIXED_ORDER = (
    LOADER_CLASS
    + """
def make_loader(dataset, batch_size, seed):
    # the bug: one shuffled order, drawn once, then the same order at every epoch
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed)).tolist()
    return DataLoader(dataset, batch_size=batch_size, sampler=order)
"""
)

LOADER_GLOBAL_RNG = (
    LOADER_CLASS
    + """
def make_loader(dataset, batch_size, seed):
    torch.manual_seed(seed)  # the bug: seeds the global generator, which anything can move on
    return DataLoader(dataset, batch_size=batch_size, shuffle=True)
"""
)

LOADER_DROP_LAST = (
    LOADER_CLASS
    + """
def make_loader(dataset, batch_size, seed):
    generator = torch.Generator().manual_seed(seed)
    # the bug: the last, smaller batch of every epoch is dropped
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator,
                      drop_last=len(dataset) > batch_size)
"""
)

DATASET_COPY = """\
class PairDataset(Dataset):
    def __init__(self, inputs, targets):
        if len(inputs) != len(targets):
            raise ValueError("inputs and targets must have the same length")
        self.inputs, self.targets = inputs.clone(), targets.clone()  # the bug: copies

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self.inputs[index], self.targets[index]


def make_loader(dataset, batch_size, seed):
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator)
"""

TRAIN_HEAD = """\
def train(model, loader, optimizer, epochs, device, show_progress=True):
    model.to(device)
    model.train()
    history = []
    for _ in progress(range(epochs), desc="training", disable=not show_progress):
        total, count = 0.0, 0
"""

TRAIN_LAST_BATCH = (
    TRAIN_HEAD
    + """\
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        history.append(loss.item())  # the bug: the loss of the last batch, not the epoch's mean
    return history
"""
)

TRAIN_MEAN_OF_BATCHES = (
    TRAIN_HEAD
    + """\
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()  # the bug: every batch counts the same, the small last one too
            count += 1
        history.append(total / count)
    return history
"""
)

TRAIN_NO_TRAIN_MODE = """\
def train(model, loader, optimizer, epochs, device, show_progress=True):
    model.to(device)  # the bug: the model is left in whatever mode it was in
    history = []
    for _ in progress(range(epochs), desc="training", disable=not show_progress):
        total, count = 0.0, 0
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(targets)
            count += len(targets)
        history.append(total / count)
    return history
"""

TRAIN_TARGETS_NOT_MOVED = (
    TRAIN_HEAD
    + """\
        for inputs, targets in loader:
            inputs = inputs.to(device)  # the bug: the targets stay where the loader made them
            loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(targets)
            count += len(targets)
        history.append(total / count)
    return history
"""
)

TRAIN_TOTAL_DEFAULT_DEVICE = (
    TRAIN_HEAD.replace(
        "        total, count = 0.0, 0\n",
        "        total, count = torch.zeros(()), 0  # the bug: on the default device\n",
    )
    + """\
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total = total + loss.detach() * len(targets)
            count += len(targets)
        history.append(total.item() / count)
    return history
"""
)

TRAIN_ZERO_GRAD_LATE = (
    TRAIN_HEAD
    + """\
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            loss = F.cross_entropy(model(inputs), targets)
            loss.backward()
            optimizer.zero_grad()  # the bug: the gradient is erased before the step uses it
            optimizer.step()
            total += loss.item() * len(targets)
            count += len(targets)
        history.append(total / count)
    return history
"""
)

TRAIN_ALWAYS_SHOWS_BAR = """\
def train(model, loader, optimizer, epochs, device, show_progress=True):
    model.to(device)
    model.train()
    history = []
    for _ in progress(range(epochs), desc="training"):  # the bug: show_progress is ignored
        total, count = 0.0, 0
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(targets)
            count += len(targets)
        history.append(total / count)
    return history
"""

WINDOWS_HEAD = """\
def cbow_windows(sentences, window):
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}")
    tensors = [torch.as_tensor(s, dtype=torch.long) for s in sentences]
    dev = tensors[0].device if tensors else torch.device("cpu")
"""

WINDOWS_CENTRE_KEPT = (
    WINDOWS_HEAD
    + """\
    rows = [t.unfold(0, 2 * window + 1, 1) for t in tensors if t.numel() > 2 * window]
    if not rows:
        return (torch.zeros(0, 2 * window, dtype=torch.long, device=dev),
                torch.zeros(0, dtype=torch.long, device=dev))
    full = torch.cat(rows)
    # the bug: the context keeps w_{t+m} but drops w_{t+1}: the slices are off by one
    return torch.cat([full[:, :window], full[:, window + 2:], full[:, -1:]], dim=1), full[:, window]
"""
)

WINDOWS_EMPTY_ON_DEFAULT_DEVICE = (
    WINDOWS_HEAD
    + """\
    rows = [t.unfold(0, 2 * window + 1, 1) for t in tensors if t.numel() > 2 * window]
    if not rows:  # the bug: the empty results are made on the default device
        return torch.zeros(0, 2 * window, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    full = torch.cat(rows)
    return torch.cat([full[:, :window], full[:, window + 1:]], dim=1), full[:, window]
"""
)

WINDOWS_SHORT_SENTENCE = (
    WINDOWS_HEAD
    + """\
    # the bug: a sentence of exactly 2m + 1 tokens is skipped (> instead of >=)
    rows = [t.unfold(0, 2 * window + 1, 1) for t in tensors if t.numel() > 2 * window + 1]
    if not rows:
        return (torch.zeros(0, 2 * window, dtype=torch.long, device=dev),
                torch.zeros(0, dtype=torch.long, device=dev))
    full = torch.cat(rows)
    return torch.cat([full[:, :window], full[:, window + 1:]], dim=1), full[:, window]
"""
)

CBOW_SUM = """\
class CBOW(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.V = nn.Embedding(vocab_size, dim)
        self.U = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.V.weight, std=dim ** -0.5)
        nn.init.normal_(self.U.weight, std=dim ** -0.5)

    def forward(self, contexts):
        if contexts.dim() != 2:
            raise ValueError("contexts must be (B, 2m)")
        return self.V(contexts).sum(dim=1) @ self.U.weight.T  # the bug: the sum, not the mean
"""

CBOW_UNIQUE_MEAN = """\
class CBOW(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.V = nn.Embedding(vocab_size, dim)
        self.U = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.V.weight, std=dim ** -0.5)
        nn.init.normal_(self.U.weight, std=dim ** -0.5)

    def forward(self, contexts):
        if contexts.dim() != 2:
            raise ValueError("contexts must be (B, 2m)")
        # the bug: averages over the batch axis (then the window), one vector for every row
        return self.V(contexts).mean(dim=0).mean(dim=0, keepdim=True).expand(
            len(contexts), -1) @ self.U.weight.T
"""

CBOW_SHARED_INIT = """\
class CBOW(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.V = nn.Embedding(vocab_size, dim)
        self.U = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.V.weight, std=dim ** -0.5)
        with torch.no_grad():
            self.U.weight.copy_(self.V.weight)  # the bug: both tables start equal

    def forward(self, contexts):
        if contexts.dim() != 2:
            raise ValueError("contexts must be (B, 2m)")
        return self.V(contexts).mean(dim=1) @ self.U.weight.T
"""

PREDICT_WITH_GRAD = """\
def predict(model, inputs):
    return model(inputs).argmax(dim=-1)  # the bug: builds an autograd graph for nothing
"""

PREDICT_SOFTMAX = """\
def predict(model, inputs):
    with torch.no_grad():
        return torch.softmax(model(inputs), dim=-1).argmax(dim=-1)  # the bug: a useless softmax
"""

PREDICT_WRONG_AXIS = """\
def predict(model, inputs):
    with torch.no_grad():
        return model(inputs).argmax(dim=0)  # the bug: the best input for each word
"""

E, L, T, W, C, P = (
    "entropy_tests",
    "loader_tests",
    "train_tests",
    "cbow_windows_tests",
    "cbow_tests",
    "predict_tests",
)

MUTANTS = [
    mutant("entropy_0_log_0_is_nan", "entropy", ENTROPY_NAN, E, "p * log p gives nan at p = 0"),
    mutant("cross_entropy_clamped", "entropy", CE_CLAMPED, E, "clamped p: no +inf"),
    mutant("entropy_wrong_axis", "entropy", ENTROPY_WRONG_AXIS, E, "sums over dim 0"),
    mutant(
        "loader_same_order_every_epoch",
        "loader",
        LOADER_FIXED_ORDER,
        L,
        "one permutation for all epochs",
    ),
    mutant("loader_global_rng", "loader", LOADER_GLOBAL_RNG, L, "global generator, not its own"),
    mutant("loader_drops_last_batch", "loader", LOADER_DROP_LAST, L, "drop_last"),
    mutant("dataset_copies_tensors", "loader", DATASET_COPY, L, "clones inputs and targets"),
    mutant("train_logs_last_batch", "train", TRAIN_LAST_BATCH, T, "history of last-batch losses"),
    mutant(
        "train_mean_of_batch_means",
        "train",
        TRAIN_MEAN_OF_BATCHES,
        T,
        "batch means not weighted by batch size",
    ),
    mutant("train_no_train_mode", "train", TRAIN_NO_TRAIN_MODE, T, "no model.train()"),
    mutant(
        "train_targets_not_moved",
        "train",
        TRAIN_TARGETS_NOT_MOVED,
        T,
        "targets not moved to the device",
    ),
    mutant(
        "train_total_on_default_device",
        "train",
        TRAIN_TOTAL_DEFAULT_DEVICE,
        T,
        "running total made on the default device",
    ),
    mutant(
        "train_zero_grad_before_step",
        "train",
        TRAIN_ZERO_GRAD_LATE,
        T,
        "zero_grad between backward and step",
    ),
    mutant("train_bar_always_shown", "train", TRAIN_ALWAYS_SHOWS_BAR, T, "show_progress ignored"),
    mutant(
        "windows_off_by_one_slice",
        "cbow_windows",
        WINDOWS_CENTRE_KEPT,
        W,
        "context slices off by one",
    ),
    mutant(
        "windows_empty_on_default_device",
        "cbow_windows",
        WINDOWS_EMPTY_ON_DEFAULT_DEVICE,
        W,
        "empty results on the default device",
    ),
    mutant(
        "windows_skip_exact_length",
        "cbow_windows",
        WINDOWS_SHORT_SENTENCE,
        W,
        "a sentence of 2m + 1 tokens gives no window",
    ),
    mutant("cbow_sum_not_mean", "cbow", CBOW_SUM, C, "sum of the context vectors"),
    mutant("cbow_mean_over_batch", "cbow", CBOW_UNIQUE_MEAN, C, "mean over the wrong axis"),
    mutant("cbow_tables_start_equal", "cbow", CBOW_SHARED_INIT, C, "U copied from V"),
    mutant("predict_builds_graph", "predict", PREDICT_WITH_GRAD, P, "no torch.no_grad()"),
    mutant("predict_softmax", "predict", PREDICT_SOFTMAX, P, "softmax before argmax"),
    mutant("predict_wrong_axis", "predict", PREDICT_WRONG_AXIS, P, "argmax over the batch"),
]

# one mutant per answer cell in each submission: every test cell uses only its own exercise
# (the ungraded training cells below may break; no graded cell depends on them)
SUBMISSIONS = [
    [
        "entropy_0_log_0_is_nan",
        "loader_same_order_every_epoch",
        "train_logs_last_batch",
        "windows_off_by_one_slice",
        "cbow_sum_not_mean",
        "predict_builds_graph",
    ],
    [
        "cross_entropy_clamped",
        "loader_global_rng",
        "train_mean_of_batch_means",
        "windows_empty_on_default_device",
        "cbow_mean_over_batch",
        "predict_softmax",
    ],
    [
        "entropy_wrong_axis",
        "loader_drops_last_batch",
        "train_no_train_mode",
        "windows_skip_exact_length",
        "cbow_tables_start_equal",
        "predict_wrong_axis",
    ],
    ["dataset_copies_tensors", "train_targets_not_moved"],
    ["train_total_on_default_device"],
    ["train_zero_grad_before_step"],
    ["train_bar_always_shown"],
]

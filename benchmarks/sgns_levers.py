"""Benchmark: levers for lab 5's SGNS in PyTorch, each a row against gensim in the same run.

Rows (same corpus, settings, epochs, seed, subsampling, dynamic windows and linear lr decay as
``sgns_vs_gensim.py``; ``--rows`` picks the families, in brackets):

* ``reference`` [reference]: the notebook's ``train_sgns`` / ``sgns_step`` (read from the
  solution), with a profile of where its time goes;
* ``shared negatives N`` [shared]: each batch of B = 1024 pairs draws N noise words once and
  scores all B x N with one matrix product; the negative term is weighted by k / N, an unbiased
  estimate of the same SGNS objective; 1 and 2 intra-op threads;
* ``per-centre N=64`` [per-centre]: batches of C centres, each with all its window's contexts
  (about 1024 pairs a batch): each centre vector is gathered and updated once, the batch shares
  N noise words, weighted n_c * k / N for a centre with n_c contexts; 1 and 2 intra-op threads;
* ``Hogwild`` [hogwild]: 2 Python threads updating one model in place (1 intra-op thread each),
  thread t taking batches t, t + 2, ... with its own generator for the negatives, with the
  shared step (and the per-centre one when it is faster): NOT reproducible (the threads race);
* ``compiled`` [compile, or ``--compile``]: ``torch.compile`` of the shared step, 1 and 2
  intra-op threads, compile time reported apart;
* ``gensim`` with the notebook's learning rate and 2 workers: the peer for the ratio.

Every row records a checksum of its centre vectors (``checksum_V``: equal between two runs of a
reproducible row), and the fastest reproducible lever that did not diverge is run again with its
time split (setup, step, rest).

    .venv/bin/python -m benchmarks.sgns_levers [--epochs 5] [--shared 64,256] [--compile]
        [--rows reference,shared,per-centre,hogwild,compile] [--json PATH]

The numbers go to ``benchmarks/baseline_sgns_levers.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.sgns_vs_gensim import (
    SETTINGS,
    checksum,
    corpus,
    quality,
    reference_code,
    run_gensim,
    run_ours,
    training_data,
)
from course_utils import device, seed_everything

ROOT = Path(__file__).resolve().parents[1]
BATCH = 1024  # pairs a batch, as in the reference
REFERENCE, GENSIM = "reference (1 thread)", "gensim (2 workers, same lr)"
FAMILIES = ("reference", "shared", "per-centre", "hogwild", "compile")
#: One epoch's batches: (the fraction of the epoch done at its start, the step's arguments).
Batches = list[tuple[float, tuple[torch.Tensor, ...]]]


def shared_step(model, centres, contexts, negatives, lr, k):
    """One SGD step of SGNS where the batch shares the noise words ``negatives`` (N,)."""
    with torch.no_grad():
        V, U = model.V.weight, model.U.weight
        v, u_pos, u_neg = V[centres], U[contexts], U[negatives]  # (B, d), (B, d), (N, d)
        pos = (u_pos * v).sum(dim=1)  # (B,)
        neg = v @ u_neg.T  # (B, N): one matrix product
        weight = k / len(negatives)
        loss = -(F.logsigmoid(pos) + weight * F.logsigmoid(-neg).sum(dim=1)).mean()
        c_pos = (torch.sigmoid(pos) - 1) * -lr  # (B,)
        c_neg = torch.sigmoid(neg) * (-lr * weight)  # (B, N)
        V.index_add_(0, centres, c_pos[:, None] * u_pos + c_neg @ u_neg)
        U.index_add_(0, contexts, c_pos[:, None] * v)
        U.index_add_(0, negatives, c_neg.T @ v)
    return loss


def per_centre_step(model, centres, contexts, rows, counts, negatives, lr, k):
    """One SGD step of SGNS on C centres (C,), each with all its contexts, sharing the noise words.

    The P pairs are flattened: pair p joins centre ``rows[p]`` (a position in ``centres``) to the
    word ``contexts[p]``; ``counts`` (C,) holds each centre's n_c. Flattened, the step measured
    about 20% faster on this CPU than padding the contexts to (C, 2w) (word 0, coefficient 0,
    scores by bmm), which gathers and updates about 10/6 more context rows. Every one of a
    centre's n_c pairs meets the batch's N noise words, so its negative term weighs n_c * k / N.
    """
    with torch.no_grad():
        V, U = model.V.weight, model.U.weight
        v, u_pos, u_neg = V[centres], U[contexts], U[negatives]  # (C, d), (P, d), (N, d)
        v_pair = v[rows]  # (P, d): from the C gathered rows, not from V
        pos = (u_pos * v_pair).sum(dim=1)  # (P,)
        neg = v @ u_neg.T  # (C, N): one matrix product
        weight = counts[:, None] * (k / len(negatives))  # (C, 1): n_c * k / N
        loss = -(F.logsigmoid(pos).sum() + (weight * F.logsigmoid(-neg)).sum()) / len(contexts)
        c_pos = (torch.sigmoid(pos) - 1) * -lr  # (P,)
        c_neg = torch.sigmoid(neg) * weight * -lr  # (C, N)
        grad_v = torch.zeros_like(v).index_add_(0, rows, c_pos[:, None] * u_pos) + c_neg @ u_neg
        V.index_add_(0, centres, grad_v)  # C rows, once per centre
        U.index_add_(0, contexts, c_pos[:, None] * v_pair)
        U.index_add_(0, negatives, c_neg.T @ v)
    return loss


def _windows(ref, ids, sentence, p_discard, gen, distance):
    """Subsampling and dynamic extended windows, as ``train_sgns``: centres, contexts, valid."""
    keep = ref["subsample"](ids, p_discard, gen)
    centre_pos, context_pos = ref["extended_window"](keep, sentence, SETTINGS["window"])
    high = SETTINGS["window"] + 1
    reach = torch.randint(1, high, (len(centre_pos), 1), generator=gen, device=ids.device)
    return centre_pos, context_pos, (context_pos >= 0) & (distance <= reach)


def pair_batches(ref, ids, sentence, p_discard, gen, distance) -> Batches:
    """One epoch's shuffled (centre, context) pairs in batches of ``BATCH``, as ``train_sgns``."""
    centre_pos, context_pos, valid = _windows(ref, ids, sentence, p_discard, gen, distance)
    centres = ids[centre_pos].unsqueeze(1).expand_as(context_pos)[valid]
    contexts = ids[context_pos[valid]]
    order = torch.randperm(len(centres), generator=gen, device=ids.device)
    centres, contexts = centres[order], contexts[order]
    n = len(centres)
    return [(s / n, (centres[s : s + BATCH], contexts[s : s + BATCH])) for s in range(0, n, BATCH)]


def centre_batches(ref, ids, sentence, p_discard, gen, distance) -> Batches:
    """One epoch's shuffled centres and their flattened contexts, about ``BATCH`` pairs a batch."""
    centre_pos, context_pos, valid = _windows(ref, ids, sentence, p_discard, gen, distance)
    has = valid.any(dim=1)  # drop the centres without a context
    centre_pos, context_pos, valid = centre_pos[has], context_pos[has], valid[has]
    order = torch.randperm(len(centre_pos), generator=gen, device=ids.device)
    centres, context_pos, valid = ids[centre_pos[order]], context_pos[order], valid[order]
    contexts = ids[context_pos[valid]]  # a centre's pairs are contiguous, in centre order
    counts = valid.sum(dim=1)
    n = len(centres)
    size = max(1, round(BATCH * n / len(contexts)))  # C: 1024 / mean contexts a centre
    rows = torch.arange(n, device=ids.device).repeat_interleave(counts) % size
    ends = [0] + counts.cumsum(0).tolist()  # where each centre's pairs end
    counts = counts.to(torch.float32)
    batches: Batches = []
    for s in range(0, n, size):
        pairs = slice(ends[s], ends[min(s + size, n)])
        args = (centres[s : s + size], contexts[pairs], rows[pairs], counts[s : s + size])
        batches.append((s / n, args))
    return batches


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _timed(fn: Callable, spent: dict[str, list[float]], name: str, dev) -> Callable:
    """``fn`` that appends its (synchronised) seconds to ``spent[name]``; thread-safe."""

    def timed(*args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        _sync(dev)
        spent[name].append(time.perf_counter() - start)
        return out

    return timed


def train(
    ref: dict,
    model: torch.nn.Module,
    ids: torch.Tensor,
    sentence: torch.Tensor,
    noise: torch.Tensor,
    p_discard: torch.Tensor,
    *,
    batches_of: Callable[..., Batches],
    step: Callable,
    n_shared: int,
    epochs: int,
    lr: float,
    workers: int = 1,
    spent: dict[str, list[float]] | None = None,
) -> float:
    """The notebook's loop (windows, subsampling, shuffle, lr decay) with a batch-shared step.

    ``workers`` Python threads share the model (Hogwild): thread t runs batches t, t + workers,
    ... with its own generator for the negatives; with 1 worker it is one seeded process. With
    ``spent``, the seconds of the setup and of the step are recorded there. Returns seconds.
    """
    k, dev = SETTINGS["negative"], ids.device
    window = SETTINGS["window"]
    gen = torch.Generator(device=dev).manual_seed(0)
    gens = [gen] if workers == 1 else [torch.Generator(device=dev).manual_seed(1 + t)
                                       for t in range(workers)]  # fmt: skip
    table = ref["unigram_table"](noise)
    distance = torch.cat([torch.arange(window, 0, -1), torch.arange(1, window + 1)]).to(dev)
    if spent is not None:
        batches_of = _timed(batches_of, spent, "setup (subsample, windows, shuffle)", dev)
        step = _timed(step, spent, "step (gathers, scores, index_add_)", dev)

    def run(t: int, batches: Batches, epoch: int) -> None:
        for frac, args in batches[t::workers]:
            rate = lr * max(1e-4, 1 - (epoch + frac) / epochs)
            draw = torch.randint(len(table), (n_shared,), generator=gens[t], device=dev)
            step(model, *args, table[draw], rate, k)

    seconds = 0.0
    with ThreadPoolExecutor(workers) as pool:
        for epoch in range(epochs):
            start = time.perf_counter()
            batches = batches_of(ref, ids, sentence, p_discard, gen, distance)
            if workers == 1:
                run(0, batches, epoch)
            else:  # list() waits for the threads and re-raises their errors
                list(pool.map(run, range(workers), [batches] * workers, [epoch] * workers))
            _sync(dev)
            seconds += time.perf_counter() - start
    return seconds


def profile_reference(ref, vocab, ids_all, sentence_all, *, epochs, lr, dev) -> dict:
    """The reference's run (``run_ours``, 1 thread), its step timed apart: where time goes."""
    spent: dict[str, list[float]] = defaultdict(list)
    original = ref["sgns_step"]  # train_sgns looks it up in the notebook's namespace
    ref["sgns_step"] = _timed(original, spent, "sgns_step (gather, scores, index_add_)", dev)
    try:
        row = run_ours(ref, vocab, ids_all, sentence_all, epochs=epochs, lr=lr, threads=1, dev=dev)
    finally:
        ref["sgns_step"] = original
    rest = "windows, shuffle, negative draws, Python loop"
    return row | {"profile_share": _shares(spent, row["seconds"], rest), "reproducible": True}


def _shares(spent: dict[str, list[float]], total: float, rest: str, workers: int = 1) -> dict:
    """Each part's share of ``total``; with threads, a part's seconds are the threads' mean."""
    shares = {name: sum(t) / workers / total for name, t in spent.items()}
    return shares | {f"the rest ({rest})": 1 - sum(shares.values())}


def _compile(ref, vocab, ids, n_shared: int) -> tuple[Callable, float, float]:
    """``shared_step`` compiled, its compile seconds and its largest difference from the eager step.

    Static shapes, the lr passed as a 0-d tensor (a float would be baked in, one graph a batch)
    and the epoch's last, shorter batch run eagerly: in some of our runs with ``dynamic=True``,
    torch 2.13's CPU inductor gave wrong updates of the noise words' rows (``c_neg.T @ v``),
    hence the check against the eager step.
    """
    compiled = torch.compile(shared_step, dynamic=False)

    def step(model, centres, contexts, negatives, lr, k):
        if len(centres) != BATCH:
            return shared_step(model, centres, contexts, negatives, lr, k)
        rate = torch.tensor(lr, device=centres.device)
        return compiled(model, centres, contexts, negatives, rate, k)

    models = []
    for _ in range(2):
        seed_everything(0)
        models.append(ref["SGNS"](len(vocab), SETTINGS["dim"]).to(ids.device))
    batch = (ids[:BATCH], ids[1 : BATCH + 1], ids[-n_shared:], 0.1, SETTINGS["negative"])
    start = time.perf_counter()
    step(models[0], *batch)  # the first call compiles
    _sync(ids.device)
    compile_s = time.perf_counter() - start
    shared_step(models[1], *batch)
    for _ in range(2):  # two more steps: the scores meet nonzero context vectors
        step(models[0], *batch)
        shared_step(models[1], *batch)
    a, b = models
    diff = max(
        (a.V.weight - b.V.weight).abs().max().item(), (a.U.weight - b.U.weight).abs().max().item()
    )
    return step, compile_s, diff


def run_lever(
    ref: dict,
    vocab,
    ids_all: torch.Tensor,
    sentence_all: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    dev: torch.device,
    per_centre: bool = False,
    n_shared: int = 64,
    compiled: bool = False,
    threads: int = 1,
    workers: int = 1,
    profile: bool = False,
) -> dict:
    """One lever's row: ``threads`` intra-op threads, ``workers`` Hogwild Python threads."""
    torch.set_num_threads(threads)
    ids, sentence, noise, p_discard = training_data(ref, vocab, ids_all, sentence_all, dev)
    step = per_centre_step if per_centre else shared_step
    if compiled:  # the shared step only
        step, compile_s, compile_diff = _compile(ref, vocab, ids, n_shared)
    seed_everything(0)
    model = ref["SGNS"](len(vocab), SETTINGS["dim"]).to(dev)
    spent: dict[str, list[float]] = defaultdict(list)
    seconds = train(
        ref, model, ids, sentence, noise, p_discard, n_shared=n_shared, step=step, epochs=epochs,
        lr=lr, batches_of=centre_batches if per_centre else pair_batches, workers=workers,
        spent=spent if profile else None,
    )  # fmt: skip
    torch.set_num_threads(1)
    V = model.V.weight.detach()
    diverged = not bool(torch.isfinite(V).all())  # the speed stands, the vectors are lost
    row = {
        "seconds": seconds,
        "raw_words_per_s": epochs * len(ids_all) / seconds,
        "quality": None if diverged else quality(V, vocab.itos),
        "diverged": diverged,
        "checksum_V": checksum(model.V.weight),
        "reproducible": workers == 1,
    }
    if compiled:
        row["compile_seconds"] = compile_s  # apart from the training seconds
        row["compiled_vs_eager_max_abs_diff"] = compile_diff  # after 3 steps, lr 0.1
    if profile:
        row["profile_share"] = _shares(spent, seconds, "negative draws, lr, Python loop", workers)
    return row


def lever_configs(families: set[str], shared: list[int]) -> dict[str, dict]:
    """The rows' labels and ``run_lever`` arguments (Hogwild per-centre is decided later)."""
    configs: dict[str, dict] = {}
    for n in shared if "shared" in families else []:
        for threads in (1, 2):
            configs[f"shared negatives N={n} ({threads} thr.)"] = {
                "n_shared": n,
                "threads": threads,
            }
    for threads in (1, 2) if "per-centre" in families else []:
        configs[f"per-centre N=64 ({threads} thr.)"] = {"per_centre": True, "threads": threads}
    if "hogwild" in families:
        configs["Hogwild 2 Python thr., shared N=64"] = {"workers": 2, "threads": 1}
    for n in shared if "compile" in families else []:
        for threads in (1, 2):
            configs[f"shared negatives N={n} compiled ({threads} thr.)"] = {
                "n_shared": n,
                "compiled": True,
                "threads": threads,
            }
    return configs


def _speed(rows: dict[str, dict], label: str) -> float:
    return rows.get(label, {}).get("raw_words_per_s", 0.0)


def _row(run: Callable[[], dict], label: str, rows: dict[str, dict]) -> None:
    try:
        rows[label] = run()
    except Exception as err:  # torch.compile needs a working C++ toolchain
        rows[label] = {"error": f"{type(err).__name__}: {err}"[:300]}
    print(f"  {label}: {rows[label].get('raw_words_per_s', 0):,.0f} words/s", flush=True)


def print_table(rows: dict[str, dict], peer: float) -> None:
    """The rows with their ratio to ``peer`` (gensim's words/s), added to each row."""
    print(
        f"\n{'':<42} {'words/s':>9} {'ratio':>6} {'analogy':>8} {'WS-353':>7} {'compile':>8} "
        f"{'repro.':>6}"
    )
    for label, row in rows.items():
        if "error" in row:
            print(f"{label:<42} {row['error']}")
            continue
        row["ratio_vs_gensim"] = row["raw_words_per_s"] / peer
        q, compile_s = row["quality"], row.get("compile_seconds")
        if q is None:
            print(f"{label:<42} {row['raw_words_per_s']:>9,.0f} {row['ratio_vs_gensim']:>5.2f}x "
                  "diverged: V holds NaN or inf after training")  # fmt: skip
            continue
        print(
            f"{label:<42} {row['raw_words_per_s']:>9,.0f} {row['ratio_vs_gensim']:>5.2f}x "
            f"{q['analogy_accuracy']:>8.3f} {q['wordsim353_spearman']:>7.3f} "
            f"{f'{compile_s:.1f}s' if compile_s is not None else '-':>8} "
            f"{'yes' if row['reproducible'] else 'NO':>6}"
        )
    print(
        "repro. NO: Hogwild threads race on V and U, so each run differs (and gensim's 2 workers"
        " too); the other rows gave a bitwise-equal V (checksum_V) on rerun, on the CPU."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--shared", default="64,256", help="N, the noise words a batch shares")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--compile", action="store_true", help="add torch.compile rows")
    parser.add_argument(
        "--rows", help=f"row families among {','.join(FAMILIES)} (default: all but compile)"
    )
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "baseline_sgns_levers.json"
    )
    args = parser.parse_args()
    families = set(args.rows.split(",") if args.rows else FAMILIES[:-1])
    families |= {"compile"} if args.compile else set()
    if families - set(FAMILIES):
        parser.error(f"unknown row families {sorted(families - set(FAMILIES))}")
    dev = device()
    torch.set_num_threads(1)
    torch.utils.deterministic.fill_uninitialized_memory = False  # as in the notebook (GPU)
    load_before = os.getloadavg()
    print(f"device {dev}; {os.cpu_count()} CPUs; load {load_before[0]:.2f}; {args.epochs} epochs")
    ref = reference_code()
    sentences, vocab, ids, sentence = corpus()
    common = {"epochs": args.epochs, "lr": args.lr, "dev": dev}

    lever = partial(run_lever, ref, vocab, ids, sentence, **common)
    rows: dict[str, dict] = {}
    if "reference" in families:
        _row(partial(profile_reference, ref, vocab, ids, sentence, **common), REFERENCE, rows)
    configs = lever_configs(families, [int(x) for x in args.shared.split(",")])
    for label, config in configs.items():
        _row(partial(lever, **config), label, rows)
    if "hogwild" in families and _speed(rows, "per-centre N=64 (1 thr.)") > _speed(
        rows, "shared negatives N=64 (1 thr.)"
    ):  # per-centre is the faster step: Hogwild with it too
        label = "Hogwild 2 Python thr., per-centre N=64"
        configs[label] = {"workers": 2, "threads": 1, "per_centre": True}
        _row(partial(lever, **configs[label]), label, rows)
    usable = [
        label
        for label in configs
        if rows[label].get("reproducible") and not rows[label].get("diverged", True)
    ]
    best = max(usable, key=lambda label: _speed(rows, label), default=None)  # profiled below
    if best is not None and _speed(rows, best) > 0:  # run again with its time split
        again = lever(**configs[best], profile=True)
        rows[best] |= {"profile_share": again["profile_share"], "profile_seconds": again["seconds"]}
    rows[GENSIM] = run_gensim(sentences, epochs=args.epochs, alpha=args.lr, workers=2)
    rows[GENSIM]["reproducible"] = False  # its 2 workers race too (gensim's documentation)
    print_table(rows, rows[GENSIM]["raw_words_per_s"])
    for label, row in rows.items():
        for name, share in row.get("profile_share", {}).items():
            print(f"  {label} time: {share:5.1%} {name}")
    record = {
        "what": "levers for lab 5's SGNS vs gensim, same corpus, settings and epochs",
        "settings": SETTINGS | {"epochs": args.epochs, "lr": args.lr, "batch_size": BATCH},
        "machine": {"cpus": os.cpu_count(), "device": str(dev), "load_before": load_before,
                    "load_after": os.getloadavg(), "torch": torch.__version__},
        "best_lever (profiled)": best,
        "rows": rows,
    }  # fmt: skip
    args.json.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written to {args.json}")


if __name__ == "__main__":
    main()

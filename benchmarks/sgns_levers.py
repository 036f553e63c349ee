"""Benchmark: levers for lab 5's SGNS in PyTorch, each a row against gensim in the same run.

Rows (same corpus, settings, epochs and seed as ``sgns_vs_gensim.py``; CPU threads given):

* ``reference``: the notebook's ``train_sgns`` / ``sgns_step`` (read from the solution), with a
  profile of where its time goes (the step, negative draws, windows and shuffling);
* ``shared negatives N``: each batch of B pairs draws N noise words once and scores all B x N
  with one matrix product; the negative term is weighted by k / N, so the loss is an unbiased
  estimate of the same SGNS objective (each pair still meets k negatives in expectation);
* the same with ``torch.compile`` of the step (its compile time reported apart), and with 2
  intra-op threads (reproducible: one process, one generator);
* ``gensim`` with the notebook's learning rate and 2 workers: the peer for the ratio.

    .venv/bin/python -m benchmarks.sgns_levers [--epochs 5] [--shared 64,256] [--compile]

The numbers go to ``benchmarks/baseline_sgns_levers.json``. Not measured here: per-centre
batching and several Python threads updating one model (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import torch

from benchmarks.sgns_vs_gensim import SETTINGS, corpus, quality, reference_code, run_gensim
from course_utils import device, seed_everything

ROOT = Path(__file__).resolve().parents[1]


def shared_step(model, centres, contexts, negatives, lr, k):
    """One SGD step of SGNS where the batch shares the noise words ``negatives`` (N,)."""
    with torch.no_grad():
        V, U = model.V.weight, model.U.weight
        v, u_pos, u_neg = V[centres], U[contexts], U[negatives]  # (B, d), (B, d), (N, d)
        pos = (u_pos * v).sum(dim=1)  # (B,)
        neg = v @ u_neg.T  # (B, N): one matrix product
        weight = k / len(negatives)
        loss = -(
            torch.nn.functional.logsigmoid(pos)
            + weight * torch.nn.functional.logsigmoid(-neg).sum(dim=1)
        ).mean()
        c_pos = (torch.sigmoid(pos) - 1) * -lr  # (B,)
        c_neg = torch.sigmoid(neg) * (-lr * weight)  # (B, N)
        V.index_add_(0, centres, c_pos[:, None] * u_pos + c_neg @ u_neg)
        U.index_add_(0, contexts, c_pos[:, None] * v)
        U.index_add_(0, negatives, c_neg.T @ v)
    return loss


def train_shared(ref, model, ids, sentence, noise, p_discard, *, n_shared, step, epochs, lr):
    """The notebook's training loop (windows, subsampling, shuffle, lr decay), shared negatives."""
    window, k, batch = SETTINGS["window"], SETTINGS["negative"], 1024
    dev = ids.device
    gen = torch.Generator(device=dev).manual_seed(0)
    table = ref["unigram_table"](noise)
    distance = torch.cat([torch.arange(window, 0, -1), torch.arange(1, window + 1)]).to(dev)
    seconds = 0.0
    for epoch in range(epochs):
        start = time.perf_counter()
        keep = ref["subsample"](ids, p_discard, gen)
        centre_pos, context_pos = ref["extended_window"](keep, sentence, window)
        reach = torch.randint(1, window + 1, (len(centre_pos), 1), generator=gen, device=dev)
        valid = (context_pos >= 0) & (distance <= reach)
        centres = ids[centre_pos].unsqueeze(1).expand_as(context_pos)[valid]
        contexts = ids[context_pos[valid]]
        order = torch.randperm(len(centres), generator=gen, device=dev)
        centres, contexts = centres[order], contexts[order]
        n_pairs = len(centres)
        for s in range(0, n_pairs, batch):
            rate = lr * max(1e-4, 1 - (epoch + s / n_pairs) / epochs)
            negatives = table[torch.randint(len(table), (n_shared,), generator=gen, device=dev)]
            step(model, centres[s : s + batch], contexts[s : s + batch], negatives, rate, k)
        seconds += time.perf_counter() - start
    return seconds


def profile_reference(ref, vocab, ids_all, sentence_all, *, epochs, lr, dev) -> dict:
    """The reference's run with its step timed apart: where the time goes."""
    spent: dict[str, float] = defaultdict(float)
    original = ref["sgns_step"]

    def timed_step(*args, **kwargs):
        start = time.perf_counter()
        out = original(*args, **kwargs)
        spent["sgns_step (gather, scores, index_add_)"] += time.perf_counter() - start
        return out

    ref["sgns_step"] = timed_step
    try:
        keep = ref["min_count_filter"](ids_all, vocab.counts, SETTINGS["min_count"])
        ids, sentence = ids_all[keep].to(dev), sentence_all[keep].to(dev)
        noise, p_discard = _noise(ref, vocab, dev)
        seed_everything(0)
        model = ref["SGNS"](len(vocab), SETTINGS["dim"]).to(dev)
        history = ref["train_sgns"](
            model, ids, sentence, noise, p_discard, window=SETTINGS["window"],
            k=SETTINGS["negative"], epochs=epochs, batch_size=1024, lr=lr, seed=0,
            show_progress=False,
        )  # fmt: skip
    finally:
        ref["sgns_step"] = original
    total = history["seconds"]
    spent["the rest (windows, shuffle, negative draws, Python loop)"] = total - sum(spent.values())
    return {
        "seconds": total,
        "raw_words_per_s": epochs * len(ids_all) / total,
        "profile_share": {name: t / total for name, t in spent.items()},
        "quality": quality(model.V.weight.detach(), vocab.itos),
    }


def _noise(ref, vocab, dev):
    counts = vocab.counts.clone()
    counts[0] = 0
    noise = ref["noise_distribution"](counts).to(dev)
    p_discard = ref["discard_probability"](vocab.frequencies().float(), SETTINGS["sample"]).to(dev)
    return noise, p_discard


def run_shared(ref, vocab, ids_all, sentence_all, *, n_shared, compiled, threads, epochs, lr, dev):
    torch.set_num_threads(threads)
    keep = ref["min_count_filter"](ids_all, vocab.counts, SETTINGS["min_count"])
    ids, sentence = ids_all[keep].to(dev), sentence_all[keep].to(dev)
    noise, p_discard = _noise(ref, vocab, dev)
    step, compile_s = shared_step, 0.0
    if compiled:
        step = torch.compile(shared_step, dynamic=True)
        seed_everything(0)
        warm = ref["SGNS"](len(vocab), SETTINGS["dim"]).to(dev)
        start = time.perf_counter()  # the first calls compile (full and last, shorter, batch)
        for b in (1024, 7):
            step(warm, ids[:b], ids[1 : b + 1], ids[:n_shared], 0.1, SETTINGS["negative"])
        compile_s = time.perf_counter() - start
    seed_everything(0)
    model = ref["SGNS"](len(vocab), SETTINGS["dim"]).to(dev)
    seconds = train_shared(
        ref, model, ids, sentence, noise, p_discard, n_shared=n_shared, step=step,
        epochs=epochs, lr=lr,
    )  # fmt: skip
    torch.set_num_threads(1)
    return {
        "seconds": seconds,
        "compile_seconds": compile_s,
        "raw_words_per_s": epochs * len(ids_all) / seconds,
        "quality": quality(model.V.weight.detach(), vocab.itos),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--shared", default="64,256", help="N, the noise words a batch shares")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--compile", action="store_true", help="add torch.compile rows")
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "baseline_sgns_levers.json"
    )
    args = parser.parse_args()
    dev = device()
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    print(f"device {dev}; {os.cpu_count()} CPUs; load {load_before[0]:.2f}; {args.epochs} epochs")
    ref = reference_code()
    sentences, vocab, ids, sentence = corpus()
    common = {"epochs": args.epochs, "lr": args.lr, "dev": dev}

    rows: dict[str, dict] = {}
    rows["reference (1 thread)"] = profile_reference(ref, vocab, ids, sentence, **common)
    for n in (int(x) for x in args.shared.split(",")):
        configs = [(False, 1), (False, 2)] + ([(True, 1)] if args.compile else [])
        for compiled, threads in configs:
            label = f"shared negatives N={n}{' compiled' if compiled else ''} ({threads} thr.)"
            try:
                rows[label] = run_shared(
                    ref, vocab, ids, sentence, n_shared=n, compiled=compiled, threads=threads,
                    **common,
                )  # fmt: skip
            except Exception as err:  # torch.compile needs a working C++ toolchain
                rows[label] = {"error": f"{type(err).__name__}: {err}"[:300]}
            print(f"  {label}: {rows[label].get('raw_words_per_s', 0):,.0f} words/s", flush=True)
    rows["gensim (2 workers, same lr)"] = run_gensim(
        sentences, epochs=args.epochs, alpha=args.lr, workers=2
    )
    peer = rows["gensim (2 workers, same lr)"]["raw_words_per_s"]
    print(f"\n{'':<40} {'words/s':>9} {'ratio':>6} {'analogy':>8} {'WS-353':>7} {'compile':>8}")
    for label, row in rows.items():
        if "error" in row:
            print(f"{label:<40} {row['error']}")
            continue
        row["ratio_vs_gensim"] = row["raw_words_per_s"] / peer
        q = row["quality"]
        print(
            f"{label:<40} {row['raw_words_per_s']:>9,.0f} {row['ratio_vs_gensim']:>5.2f}x "
            f"{q['analogy_accuracy']:>8.3f} {q['wordsim353_spearman']:>7.3f} "
            f"{row.get('compile_seconds', 0):>7.1f}s"
        )
    for name, share in rows["reference (1 thread)"]["profile_share"].items():
        print(f"  reference time: {share:5.1%} {name}")
    record = {
        "what": "levers for lab 5's SGNS vs gensim, same corpus, settings and epochs",
        "settings": SETTINGS | {"epochs": args.epochs, "lr": args.lr, "batch_size": 1024},
        "machine": {"cpus": os.cpu_count(), "device": str(dev), "load_before": load_before,
                    "load_after": os.getloadavg(), "torch": torch.__version__},
        "rows": rows,
    }  # fmt: skip
    args.json.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written to {args.json}")


if __name__ == "__main__":
    main()

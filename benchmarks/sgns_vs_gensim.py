"""Benchmark: lab 5's reference SGNS training (PyTorch) against gensim's ``Word2Vec``.

Both train skip-gram with negative sampling on the course's default corpus with the same
settings (``sg=1, negative=5, window=5, vector_size=100, sample=1e-3, min_count=5``) and the
same number of epochs, on the same machine; gensim uses 2 worker threads. The PyTorch code is
not a copy: the graded functions are read from the answer cells of the lab 5 solution notebook
(``### BEGIN/END SOLUTION`` markers removed, only imports, functions and classes executed), so
the benchmark always measures what the notebook teaches.

    .venv/bin/python benchmarks/sgns_vs_gensim.py [--epochs 5] [--repeats 3] [--threads 1,2]

Speed is in corpus words per second, gensim's definition: every token of the corpus counts,
``526,233`` per epoch, whether or not ``min_count`` or subsampling drops it ("raw"). The
"effective" rate counts only the tokens that survive both filters. Each configuration runs
``--repeats`` times; the table gives the median (and the range). Quality: analogy accuracy
(Google analogies, 3CosAdd), WordSim-353 and SimLex-999 Spearman, with the out-of-vocabulary
rates. gensim runs twice: with its default learning rate (``alpha=0.025``) and with the
notebook's (``alpha=0.1``, decaying linearly to ``1e-5``). The numbers go to
``benchmarks/baseline_sgns.json``.

Timings on a shared machine are noisy: ``os.getloadavg()`` is recorded before and after, and
the ratio of medians is the figure to compare. On a GPU the same code runs on CUDA (the
``course_utils.device()`` choice, or ``COURSE_DEVICE``) and the table says so.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from course_utils import Vocab, device, notebooks, seed_everything
from course_utils.corpora import load_corpus
from course_utils.evaluation import evaluate_all

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "lab5_sgns" / "lab5_sgns.ipynb"
#: Cells whose functions and classes the training needs (grade ids in the notebook).
CELLS = (
    "setup",
    "noise_distribution",
    "min_count_filter",
    "discard_probability",
    "subsample",
    "extended_window",
    "sgns_module",
    "sgns_step",
    "unigram-table",
    "train_sgns",
)
SETTINGS = {"dim": 100, "window": 5, "negative": 5, "sample": 1e-3, "min_count": 5}


def reference_code(path: Path = NOTEBOOK) -> dict:
    """The notebook's imports, functions and classes, executed in a fresh namespace."""
    cells = notebooks.cells_by_id(notebooks.read(path))
    namespace: dict = {"__name__": "lab5_reference"}
    for gid in CELLS:
        tree = ast.parse(notebooks.reference_answer(cells[gid].source))
        keep = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
        tree.body = [node for node in tree.body if isinstance(node, keep)]
        exec(compile(tree, f"{path.name}:{gid}", "exec"), namespace)
    return namespace


def corpus():
    sentences = load_corpus("default")
    vocab = Vocab.from_corpus(sentences, min_count=SETTINGS["min_count"])
    ids = torch.cat([vocab.encode(s) for s in sentences])
    sentence = torch.repeat_interleave(
        torch.arange(len(sentences)), torch.tensor([len(s) for s in sentences])
    )
    return sentences, vocab, ids, sentence


def quality(vectors, words) -> dict[str, float]:
    return {k: round(v, 4) for k, v in evaluate_all(vectors, words).items()}


def training_data(ref, vocab, ids_all, sentence_all, dev):
    """The kept tokens, their sentences, the noise distribution and the discard probabilities."""
    keep = ref["min_count_filter"](ids_all, vocab.counts, SETTINGS["min_count"])
    counts = vocab.counts.clone()
    counts[0] = 0
    noise = ref["noise_distribution"](counts).to(dev)
    p_discard = ref["discard_probability"](vocab.frequencies().float(), SETTINGS["sample"]).to(dev)
    return ids_all[keep].to(dev), sentence_all[keep].to(dev), noise, p_discard


def checksum(V: torch.Tensor) -> str:
    """The first 16 hex digits of the SHA-256 of V's bytes: equal only for bitwise-equal V."""
    return hashlib.sha256(V.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def run_ours(ref, vocab, ids_all, sentence_all, *, epochs, lr, threads, dev) -> dict:
    torch.set_num_threads(threads)
    ids, sentence, noise, p_discard = training_data(ref, vocab, ids_all, sentence_all, dev)
    seed_everything(0)
    torch.utils.deterministic.fill_uninitialized_memory = False  # as in the notebook
    model = ref["SGNS"](len(vocab), SETTINGS["dim"]).to(dev)
    history = ref["train_sgns"](
        model,
        ids,
        sentence,
        noise,
        p_discard,
        window=SETTINGS["window"],
        k=SETTINGS["negative"],
        epochs=epochs,
        batch_size=1024,
        lr=lr,
        seed=0,
        show_progress=False,
    )
    seconds = history["seconds"]
    return {
        "seconds": seconds,
        "raw_words_per_s": epochs * len(ids_all) / seconds,
        "effective_words_per_s": history["kept_words"] / seconds,
        "pairs_per_s": history["pairs"] / seconds,
        "quality": quality(model.V.weight.detach(), vocab.itos),
        "checksum_V": checksum(model.V.weight),
    }


def run_gensim(sentences, *, epochs, alpha, workers) -> dict:
    from gensim.models import Word2Vec

    model = Word2Vec(
        sg=1,
        negative=SETTINGS["negative"],
        window=SETTINGS["window"],
        vector_size=SETTINGS["dim"],
        sample=SETTINGS["sample"],
        min_count=SETTINGS["min_count"],
        workers=workers,
        alpha=alpha,
        min_alpha=alpha * 1e-4,
        seed=0,
    )
    model.build_vocab(sentences)
    start = time.perf_counter()
    effective, raw = model.train(sentences, total_examples=model.corpus_count, epochs=epochs)
    seconds = time.perf_counter() - start
    vectors = torch.from_numpy(model.wv.vectors.copy())
    return {
        "seconds": seconds,
        "raw_words_per_s": raw / seconds,
        "effective_words_per_s": effective / seconds,
        "quality": quality(vectors, list(model.wv.index_to_key)),
    }


def summarise(runs: list[dict]) -> dict:
    out = {"runs": runs}
    for key in ("seconds", "raw_words_per_s", "effective_words_per_s"):
        values = [r[key] for r in runs]
        out[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    names = runs[0]["quality"].keys()
    out["quality"] = {k: statistics.median(r["quality"][k] for r in runs) for k in names}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", default="1,2", help="CPU threads for PyTorch, e.g. 1,2")
    parser.add_argument("--workers", type=int, default=2, help="gensim worker threads")
    parser.add_argument("--lr", type=float, default=0.1, help="the notebook's learning rate")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "baseline_sgns.json")
    args = parser.parse_args()

    dev = device()
    threads = [int(t) for t in args.threads.split(",")] if dev.type == "cpu" else [1]
    load_before = os.getloadavg()
    print(
        f"device: {dev}; {os.cpu_count()} CPUs; load average {load_before[0]:.2f}; "
        f"torch {torch.__version__}; {args.epochs} epochs, {args.repeats} repeats"
    )
    ref = reference_code()
    sentences, vocab, ids, sentence = corpus()

    results: dict[str, dict] = {}
    for t in threads:
        label = f"PyTorch SGNS ({dev.type}, {t} thread{'s' if t > 1 else ''})"
        if dev.type != "cpu":
            label = f"PyTorch SGNS ({dev})"
        runs = []
        for r in range(args.repeats):
            runs.append(
                run_ours(
                    ref, vocab, ids, sentence, epochs=args.epochs, lr=args.lr, threads=t, dev=dev
                )
            )
            print(f"  {label} run {r + 1}: {runs[-1]['raw_words_per_s']:,.0f} words/s", flush=True)
        results[label] = summarise(runs) | {"device": str(dev), "threads": t, "lr": args.lr}
    for alpha in (0.025, args.lr):
        label = f"gensim Word2Vec ({args.workers} workers, alpha {alpha:g})"
        runs = []
        for r in range(args.repeats):
            runs.append(
                run_gensim(sentences, epochs=args.epochs, alpha=alpha, workers=args.workers)
            )
            print(f"  {label} run {r + 1}: {runs[-1]['raw_words_per_s']:,.0f} words/s", flush=True)
        results[label] = summarise(runs) | {
            "device": "cpu",
            "workers": args.workers,
            "alpha": alpha,
        }
    load_after = os.getloadavg()

    gensim_same = results[f"gensim Word2Vec ({args.workers} workers, alpha {args.lr:g})"]
    head = (
        f"{'':<44} {'words/s (raw)':>22} {'effective':>10} {'ratio':>6} {'analogy':>8} "
        f"{'WS-353':>7} {'SimLex':>7}"
    )
    print()
    print(head)
    print("-" * len(head))
    for label, res in results.items():
        raw, q = res["raw_words_per_s"], res["quality"]
        ratio = raw["median"] / gensim_same["raw_words_per_s"]["median"]
        res["ratio_vs_gensim_same_lr"] = ratio
        res["quality_minus_gensim_same_lr"] = {
            k: q[k] - gensim_same["quality"][k]
            for k in ("analogy_accuracy", "wordsim353_spearman", "simlex999_spearman")
        }
        spread = f"({raw['min'] / 1e3:.0f}-{raw['max'] / 1e3:.0f}k)"
        print(
            f"{label:<44} {raw['median']:>11,.0f} {spread:>10} "
            f"{res['effective_words_per_s']['median']:>10,.0f} {ratio:>5.2f}x "
            f"{q['analogy_accuracy']:>8.3f} {q['wordsim353_spearman']:>7.3f} "
            f"{q['simlex999_spearman']:>7.3f}"
        )
    q = next(iter(results.values()))["quality"]
    print(
        f"out of vocabulary (this lab's vocabulary): analogies {q['analogy_oov_rate']:.0%}, "
        f"WordSim-353 {q['wordsim353_oov_rate']:.0%}, SimLex-999 {q['simlex999_oov_rate']:.0%}"
    )
    print(
        f"ratio = median raw words/s over gensim's with the same learning rate; "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )

    record = {
        "what": "lab 5 reference SGNS (PyTorch) vs gensim Word2Vec, same corpus and settings",
        "settings": SETTINGS | {"epochs": args.epochs, "repeats": args.repeats, "batch_size": 1024},
        "corpus": {"name": "default", "tokens_per_epoch": len(ids), "vocabulary": len(vocab)},
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "device": str(dev),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "torch": torch.__version__,
            "gensim": __import__("gensim").__version__,
        },
        "results": results,
    }
    args.json.write_text(json.dumps(record, indent=1) + "\n")
    where = args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json
    print(f"written to {where}")


if __name__ == "__main__":
    main()

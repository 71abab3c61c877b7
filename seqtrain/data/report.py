"""What training will see, as plain rows: sequences in epoch order, batches, corpus statistics.

Backs `seqtrain data` (RETURNN's dump-dataset tool, for our pipeline): the rows are computed from the
same epoch plan the engine trains on, so what is printed is exactly what the model gets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from seqtrain.data.batching import batch_frames
from seqtrain.data.dataset import Dataset
from seqtrain.data.epoch import EpochPlan

HISTOGRAM_BINS = 20


def seq_rows(dataset: Dataset, plan: EpochPlan, keys: list[str]) -> Iterator[dict[str, Any]]:
    """One row per sequence, in the order the batches visit them (a chunked sequence once)."""
    lengths = dataset.seq_lengths()
    seen: set[int] = set()
    for batch in plan.batches:
        for idx in batch.seq_indices:
            if idx in seen:
                continue
            seen.add(idx)
            yield {"idx": idx, "tag": dataset.seq_tag(idx), "lengths": {k: int(lengths[k][idx]) for k in keys}}


def batch_rows(dataset: Dataset, plan: EpochPlan, key: str) -> Iterator[dict[str, Any]]:
    """One row per batch; `chunks` are the frames of `key` each sequence contributes."""
    lengths = dataset.seq_lengths()[key]
    for number, batch in enumerate(plan.batches):
        windows = [batch.window(i, key) or (0, int(lengths[idx])) for i, idx in enumerate(batch.seq_indices)]
        padded, real = batch_frames(batch, lengths, key)
        yield {
            "batch": number,
            "seq_idx": list(batch.seq_indices),
            "seq_tags": [dataset.seq_tag(i) for i in batch.seq_indices],
            "chunks": [list(w) for w in windows],
            "padded_frames": padded,
            "real_frames": real,
        }


def plan_summary(dataset: Dataset, plan: EpochPlan, key: str) -> dict[str, Any]:
    lengths = dataset.seq_lengths()[key]
    padded = real = 0
    for batch in plan.batches:
        p, r = batch_frames(batch, lengths, key)
        padded += p
        real += r
    sizes = [len(b) for b in plan.batches]
    return {
        "summary": True,
        "num_batches": len(plan.batches),
        "num_seqs": plan.num_seqs,
        "skipped_by_length": plan.num_skipped,
        "filtered_by_epoch_wise_filter": plan.num_filtered,
        "skipped_by_chunking": plan.num_unchunked,
        "seqs_per_batch": {"min": min(sizes, default=0), "mean": float(np.mean(sizes)) if sizes else 0.0,
                           "max": max(sizes, default=0)},
        "padded_frames": padded,
        "real_frames": real,
        "padding_fraction": round(1.0 - real / padded, 6) if padded else 0.0,
    }  # fmt: skip


def length_stats(values: np.ndarray) -> dict[str, Any]:
    values = np.asarray(values, dtype=np.int64)
    if len(values) == 0:
        return {"num_seqs": 0}
    counts, edges = np.histogram(values, bins=min(HISTOGRAM_BINS, max(1, int(values.max() - values.min()) + 1)))
    return {
        "num_seqs": len(values),
        "total": int(values.sum()),
        "min": int(values.min()),
        "mean": round(float(values.mean()), 3),
        "median": float(np.median(values)),
        "p95": float(np.percentile(values, 95)),
        "max": int(values.max()),
        "histogram": {"edges": [round(float(e), 2) for e in edges], "counts": counts.tolist()},
    }


def corpus_stats(
    dataset: Dataset, seq_indices: np.ndarray, keys: list[str], *, frame_shift_ms: float, count_labels: bool = True
) -> dict[str, Any]:
    """Lengths per key (histogram), total frames and hours of the input key, label counts of sparse keys."""
    lengths = dataset.seq_lengths()
    specs = dataset.data_specs()
    stats: dict[str, Any] = {"dataset": dataset.name, "num_seqs": len(seq_indices), "keys": {}}
    for key in keys:
        entry = length_stats(lengths[key][seq_indices])
        entry["spec"] = specs[key].describe()
        stats["keys"][key] = entry
    if "data" in keys:
        frames = int(lengths["data"][seq_indices].sum())
        stats["frames"] = frames
        stats["hours"] = round(frames * frame_shift_ms / 1000 / 3600, 4)
    if count_labels:
        for key in keys:
            spec = specs[key]
            if spec.sparse and spec.dim:
                counts = np.zeros(spec.dim, dtype=np.int64)
                for idx in seq_indices.tolist():
                    counts += np.bincount(np.asarray(dataset.get_data(idx, key)), minlength=spec.dim)[: spec.dim]
                vocab = dataset.labels(key)
                names = vocab if vocab and len(vocab) == spec.dim else [str(i) for i in range(spec.dim)]
                stats["keys"][key]["label_counts"] = dict(zip(names, counts.tolist()))
    return stats


def plot_stats(stats: dict[str, Any], output: str) -> str:
    """Length histograms per key and label counts, one panel each, into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(k, "lengths") for k in stats["keys"]] + [
        (k, "labels") for k, v in stats["keys"].items() if "label_counts" in v
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 3.2 * len(panels)), squeeze=False)
    for ax, (key, kind) in zip(axes[:, 0], panels):
        entry = stats["keys"][key]
        if kind == "lengths" and "histogram" in entry:
            edges, counts = entry["histogram"]["edges"], entry["histogram"]["counts"]
            ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", edgecolor="black", linewidth=0.4)
            ax.set_xlabel(f"length of {key!r}")
            ax.set_ylabel("sequences")
        elif kind == "labels":
            names, counts = zip(*entry["label_counts"].items())
            ax.bar(range(len(names)), counts)
            ax.set_xticks(range(len(names)), [n if n.strip() else repr(n) for n in names], fontsize=7, rotation=90)
            ax.set_ylabel(f"count of {key!r}")
        ax.grid(alpha=0.3)
    fig.suptitle(f"dataset {stats['dataset']!r}: {stats['num_seqs']} sequences")
    fig.tight_layout()
    fig.savefig(output, dpi=100)
    plt.close(fig)
    return output

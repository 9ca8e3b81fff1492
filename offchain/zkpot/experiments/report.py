"""The results of a grid: ``runs.json`` (everything), ``rounds.csv`` (one row per run and
round), ``runs.csv`` (one row per run), PNG plots and ``summary.md``."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from statistics import mean, pstdev
from typing import Any

from zkpot.experiments.config import ExperimentConfig

_KEYS = ("rule", "attack", "fraction", "split", "seed")


def _ms(values: Sequence[float], pct: bool = True) -> str:
    f = 100.0 if pct else 1.0
    if not values:
        return "–"
    return f"{f * mean(values):.1f} ± {f * pstdev(values):.1f}" if pct else f"{mean(values):.3f} ± {pstdev(values):.3f}"


def write(cfg: ExperimentConfig, results: list[dict[str, Any]], out: Path, meta: dict[str, Any]) -> str:
    """Writes every file to ``out`` and returns the markdown summary."""
    out.mkdir(parents=True, exist_ok=True)
    results = sorted(results, key=lambda r: tuple(str(r[k]) for k in _KEYS))
    (out / "runs.json").write_text(json.dumps({"config": cfg.model_dump(), "meta": meta, "runs": results}, indent=1) + "\n")
    with (out / "rounds.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*_KEYS, "round", "float_accuracy", "quantized_accuracy", "included",
                    "byzantine_included", "leader_byzantine", "poisoned"])
        for r in results:
            for row in r["rows"]:
                w.writerow([*(r[k] for k in _KEYS), row["round"], f"{row['float_accuracy']:.4f}",
                            f"{row['quantized_accuracy']:.4f}", row["included"], row["byzantine_included"],
                            int(row["leader_byzantine"]), int(row["poisoned"])])
    with (out / "runs.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*_KEYS, "final_float_accuracy", "final_quantized_accuracy", "mia_auc_global",
                    "mia_auc_individual", "mia_advantage_global", "mia_advantage_individual", "proofs", "seconds"])
        for r in results:
            w.writerow([*(r[k] for k in _KEYS), f"{r['final_float_accuracy']:.4f}",
                        f"{r['final_quantized_accuracy']:.4f}", f"{r['mia']['global']['auc']:.4f}",
                        f"{r['mia']['individual']['auc']:.4f}", f"{r['mia']['global']['advantage']:.4f}",
                        f"{r['mia']['individual']['advantage']:.4f}", len(r["proofs"]), r["seconds"]])
    _plots(cfg, results, out)
    summary = _summary(cfg, results, meta)
    (out / "summary.md").write_text(summary)
    return summary


def _group(results: list[dict[str, Any]], *keys: str) -> dict[tuple, list[dict[str, Any]]]:
    g: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        g[tuple(r[k] for k in keys)].append(r)
    return g


def _summary(cfg: ExperimentConfig, results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [f"# zkpot experiment: {cfg.architecture}, {cfg.clients} clients, {cfg.rounds} rounds, "
             f"seeds {cfg.seeds}", "",
             f"{len(results)} runs in {meta.get('seconds', 0):.0f} s; commit {meta.get('commit', '?')}; "
             f"command: `{meta.get('command', 'zkpot experiment')}`.", ""]
    by = _group(results, "split", "fraction", "attack", "rule")
    for split in cfg.splits:
        lines += [f"## Final global accuracy (%), {split} split, mean ± std over seeds", "",
                  "| Byzantine | attack | " + " | ".join(cfg.rules) + " |",
                  "|---|---|" + "---|" * len(cfg.rules)]
        for fraction in cfg.byzantine_fractions:
            for attack in (["none"] if fraction == 0 else cfg.attacks):
                cells = [_ms([r["final_float_accuracy"] for r in by.get((split, fraction, attack, rule), [])])
                         for rule in cfg.rules]
                lines.append(f"| {int(100 * fraction)} % | {attack} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Membership inference (loss threshold): AUC and advantage, mean ± std over all runs", "",
              "What each rule makes public: ZKPoT only the global model (individual models stay on the "
              "clients; secure aggregation hides them from the aggregator too); PoFL every model; "
              "FedAvg, PoS and PoW hand every model to the server or leader.", "",
              "| rule | AUC, global model | AUC, individual model | advantage, global | advantage, individual "
              "| individual models exposed? |",
              "|---|---|---|---|---|---|"]
    for rule in cfg.rules:
        rs = [r for r in results if r["rule"] == rule]
        cells = [_ms([r["mia"][e][k] for r in rs], pct=False)
                 for k in ("auc", "advantage") for e in ("global", "individual")]
        lines.append(f"| {rule} | " + " | ".join(cells)
                     + f" | {'yes' if rs and rs[0]['exposes_individual'] else 'no'} |")
    gaps = [row["float_accuracy"] - row["quantized_accuracy"] for r in results if r["rule"] == "zkpot" for row in r["rows"]]
    lines += ["", "## Quantization", "",
              f"Float minus quantized accuracy of every ZKPoT global model, every round: mean "
              f"{100 * mean(gaps) if gaps else 0:.2f} pp, largest |gap| "
              f"{100 * max((abs(g) for g in gaps), default=0):.2f} pp over {len(gaps)} models.", ""]
    proofs = [p for r in results for p in r["proofs"]]
    if proofs:
        lines += [f"Real proofs made (`prove_every = {cfg.prove_every}`): {len(proofs)}, every proven score "
                  "equal to the simulated one and every proof verified.", ""]
    return "\n".join(lines)


def _plots(cfg: ExperimentConfig, results: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = _group(results, "split", "fraction", "attack", "rule")
    for split in cfg.splits:
        # Final accuracy against the Byzantine fraction, one panel per attack.
        fig, axes = plt.subplots(1, len(cfg.attacks), figsize=(3.2 * len(cfg.attacks), 3), sharey=True, squeeze=False)
        for ax, attack in zip(axes[0], cfg.attacks, strict=True):
            for rule in cfg.rules:
                xs, ys = [], []
                for fraction in cfg.byzantine_fractions:
                    rs = by.get((split, fraction, "none" if fraction == 0 else attack, rule), [])
                    if rs:
                        xs.append(100 * fraction)
                        ys.append(100 * mean(r["final_float_accuracy"] for r in rs))
                ax.plot(xs, ys, marker="o", label=rule)
            ax.set_title(attack, fontsize=9)
            ax.set_xlabel("Byzantine %")
        axes[0][0].set_ylabel("final accuracy %")
        axes[0][-1].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"final-accuracy-{split}.png", dpi=80)
        plt.close(fig)
        # Accuracy per round at the largest fraction, one panel per attack.
        worst = max(cfg.byzantine_fractions)
        fig, axes = plt.subplots(1, len(cfg.attacks), figsize=(3.2 * len(cfg.attacks), 3), sharey=True, squeeze=False)
        for ax, attack in zip(axes[0], cfg.attacks, strict=True):
            for rule in cfg.rules:
                rs = by.get((split, worst, "none" if worst == 0 else attack, rule), [])
                if rs:
                    rounds = [row["round"] for row in rs[0]["rows"]]
                    ax.plot(rounds, [100 * mean(r["rows"][i]["float_accuracy"] for r in rs)
                                     for i in range(len(rounds))], label=rule)
            ax.set_title(f"{attack}, {int(100 * worst)} % Byzantine", fontsize=9)
            ax.set_xlabel("round")
        axes[0][0].set_ylabel("global accuracy %")
        axes[0][-1].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"accuracy-per-round-{split}.png", dpi=80)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3))
    for i, exposure in enumerate(("global", "individual")):
        vals = [mean(r["mia"][exposure]["auc"] for r in results if r["rule"] == rule) for rule in cfg.rules]
        ax.bar([j + 0.4 * i for j in range(len(cfg.rules))], vals, width=0.4, label=f"{exposure} model")
    ax.axhline(0.5, color="gray", lw=0.8)
    ax.set_xticks([j + 0.2 for j in range(len(cfg.rules))], cfg.rules)
    ax.set_ylabel("MIA AUC")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "membership-inference.png", dpi=80)
    plt.close(fig)

"""Small inline SVG plots for the server-rendered pages (no JavaScript, no plotting library at request
time). Views pass plain data; the drawing lives here."""

from __future__ import annotations

from html import escape

import numpy as np

DECISION_COLOURS = {"approved": "#1f8a4c", "rejected": "#c23b22", "needs_review": "#b07d00", "pending": "#8a939c"}
DIMENSION_COLOURS = {"quality": "#2457d6", "alignment": "#c2761f"}


def scatter_svg(pairs: list[tuple[float, int]], *, title: str, seed: int, size: int = 280) -> str:
    """Ratings (y, jittered a little: they are integers) against golden scores (x), on 1-5 axes,
    with the diagonal y = x. Deterministic jitter (seeded) so the page does not shimmer on reload."""
    pad, inner = 34, size - 48
    rng = np.random.default_rng(seed)

    def sx(v: float) -> float:
        return pad + (v - 1) / 4 * inner

    def sy(v: float) -> float:
        return 8 + inner - (v - 1) / 4 * inner

    parts = [
        f'<svg class="scatter" viewBox="0 0 {size} {size}" width="{size}" height="{size}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    parts.append(f'<rect x="{pad}" y="8" width="{inner}" height="{inner}" fill="#fafbfc" stroke="#c5cbd3"/>')
    for v in range(1, 6):
        parts.append(
            f'<line x1="{sx(v):.1f}" y1="{8 + inner}" x2="{sx(v):.1f}" y2="{8 + inner + 4}" stroke="#5d6670"/>'
            f'<text x="{sx(v):.1f}" y="{8 + inner + 16}" text-anchor="middle" font-size="11">{v}</text>'
            f'<line x1="{pad - 4}" y1="{sy(v):.1f}" x2="{pad}" y2="{sy(v):.1f}" stroke="#5d6670"/>'
            f'<text x="{pad - 7}" y="{sy(v) + 4:.1f}" text-anchor="end" font-size="11">{v}</text>'
        )
    parts.append(f'<line x1="{sx(1)}" y1="{sy(1)}" x2="{sx(5)}" y2="{sy(5)}" stroke="#9aa3ad" stroke-dasharray="4 3"/>')
    jitter = rng.uniform(-0.15, 0.15, size=(len(pairs), 2))
    for (g, r), (jx, jy) in zip(pairs, jitter):
        parts.append(
            f'<circle class="pt" cx="{sx(g + jx * 0.3):.1f}" cy="{sy(r + jy):.1f}" r="4" '
            f'fill="#2457d6" fill-opacity=".6"><title>golden {g:.2f}, rating {r}</title></circle>'
        )
    parts.append(
        f'<text x="{pad + inner / 2}" y="{size - 4}" text-anchor="middle" font-size="11">golden score</text>'
        f'<text x="10" y="{8 + inner / 2}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 10 {8 + inner / 2})">rating</text></svg>'
    )
    return "".join(parts)


def evidence_svg(
    history: list[dict], *, dimension: str, current: int | None = None, width: int = 420, height: int = 220
) -> str:
    """One dimension of an annotator's evidence over their batches (oldest left): the cumulative SRCC
    against the golden scores with its 95% interval (filled dot, bar), the batch's own SRCC (ring),
    coloured by the batch's decision, over the campaign's typical range of genuine raters (band)."""
    pad_l, pad_r, pad_t, pad_b = 40, 10, 12, 30
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    n = len(history)
    lows = [(p["cumulative"].get(dimension) or {}).get("srcc_ci") for p in history]
    y_min = min([-0.2] + [ci[0] for ci in lows if ci])
    y_min = max(-1.0, float(np.floor(y_min * 5) / 5))

    def sx(i: int) -> float:
        return pad_l + (w * (i + 0.5) / n if n else w / 2)

    def sy(v: float) -> float:
        return pad_t + h - (v - y_min) / (1 - y_min) * h

    title = f"{dimension}: SRCC against the golden scores, batch by batch"
    parts = [
        f'<svg class="evidence" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" fill="#fafbfc" stroke="#c5cbd3"/>',
    ]
    reference = (history[-1]["reference"].get(dimension) if history else None) or {}
    band = reference.get("typical_range")
    if band:
        lo, hi = max(band[0], y_min), min(band[1], 1.0)
        parts.append(
            f'<rect x="{pad_l}" y="{sy(hi):.1f}" width="{w}" height="{max(sy(lo) - sy(hi), 0):.1f}" '
            f'fill="#dfe9fb" opacity=".7"><title>campaign raters, typical {band[0]:.2f}-{band[1]:.2f}</title></rect>'
        )
        if reference.get("centre") is not None:
            c = reference["centre"]
            parts.append(
                f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{sy(c):.1f}" y2="{sy(c):.1f}" stroke="#2457d6" '
                f'stroke-dasharray="5 3"><title>campaign reference {c:.2f}</title></line>'
            )
    tick = y_min
    while tick <= 1.0001:
        parts.append(
            f'<line x1="{pad_l - 4}" x2="{pad_l}" y1="{sy(tick):.1f}" y2="{sy(tick):.1f}" stroke="#5d6670"/>'
            f'<text x="{pad_l - 7}" y="{sy(tick) + 4:.1f}" text-anchor="end" font-size="11">{tick:.1f}</text>'
        )
        if abs(tick) < 1e-9:
            parts.append(f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" stroke="#9aa3ad"/>')
        tick = round(tick + 0.2, 10)
    for i, point in enumerate(history):
        colour = DECISION_COLOURS.get(point["decision"], "#8a939c")
        cum = point["cumulative"].get(dimension) or {}
        own = point["own"].get(dimension) or {}
        x = sx(i)
        if cum.get("srcc_ci"):
            lo, hi = cum["srcc_ci"]
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{sy(hi):.1f}" y2="{sy(max(lo, y_min)):.1f}" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
        if cum.get("srcc") is not None:
            label = (
                f"batch {point['batch']} ({point['decision']}): SRCC {cum['srcc']:.2f} over {cum.get('n_golden', 0)} "
                f"golden items so far"
            )
            if cum.get("srcc_ci"):
                label += f" [{cum['srcc_ci'][0]:.2f}, {cum['srcc_ci'][1]:.2f}]"
            parts.append(
                f'<circle class="cum" cx="{x:.1f}" cy="{sy(cum["srcc"]):.1f}" r="4" fill="{colour}">'
                f"<title>{escape(label)}</title></circle>"
            )
        if own.get("srcc") is not None:
            parts.append(
                f'<circle class="own" cx="{x:.1f}" cy="{sy(max(own["srcc"], y_min)):.1f}" r="3" fill="none" '
                f'stroke="{colour}"><title>batch {point["batch"]} alone: SRCC {own["srcc"]:.2f} over '
                f"{own.get('n_golden', 0)}</title></circle>"
            )
        if current is not None and point["batch"] == current:
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{pad_t}" y2="{pad_t + h}" stroke="#1b1f24" '
                f'stroke-dasharray="2 2"><title>this batch</title></line>'
            )
    parts.append(
        f'<text x="{pad_l + w / 2}" y="{height - 6}" text-anchor="middle" font-size="11">'
        f"{escape(dimension)}: batches, oldest left (dot: all golden items so far; ring: this batch alone)</text>"
        f'<text x="11" y="{pad_t + h / 2}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 11 {pad_t + h / 2})">SRCC</text></svg>'
    )
    return "".join(parts)


def history_svg(
    points: dict[str, list[float | None]], *, approve: float, reject: float, width: int = 560, height: int = 180
) -> str:
    """SRCC per dimension over the annotator's batches (oldest left), with the two fixed thresholds dashed."""
    pad_l, pad_r, pad_t, pad_b = 36, 10, 10, 22
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    n = max((len(v) for v in points.values()), default=0)

    def sx(i: int) -> float:
        return pad_l + (w * i / (n - 1) if n > 1 else w / 2)

    def sy(v: float) -> float:
        return pad_t + h - (v + 1) / 2 * h

    parts = [
        f'<svg class="history" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="SRCC per batch over time"><title>SRCC per batch over time</title>',
        f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" fill="#fafbfc" stroke="#c5cbd3"/>',
    ]
    for tick in (-1, 0, 1):
        parts.append(f'<text x="{pad_l - 5}" y="{sy(tick) + 4:.1f}" text-anchor="end" font-size="11">{tick}</text>')
    for threshold, label in ((approve, "approve"), (reject, "reject")):
        parts.append(
            f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{sy(threshold):.1f}" y2="{sy(threshold):.1f}" '
            f'stroke="#9aa3ad" stroke-dasharray="4 3"><title>{label} threshold {threshold:g}</title></line>'
        )
    for dim, values in points.items():
        color = DIMENSION_COLOURS.get(dim, "#555")
        segment: list[str] = []
        for i, v in enumerate(values + [None]):
            if v is None:
                if len(segment) > 1:
                    parts.append(
                        f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(segment)}"/>'
                    )
                segment = []
                continue
            segment.append(f"{sx(i):.1f},{sy(v):.1f}")
            parts.append(
                f'<circle cx="{sx(i):.1f}" cy="{sy(v):.1f}" r="3" fill="{color}">'
                f"<title>{escape(dim)} SRCC {v:.2f}</title></circle>"
            )
    legend_x = pad_l
    for dim in points:
        parts.append(
            f'<text x="{legend_x}" y="{height - 5}" font-size="11" fill="{DIMENSION_COLOURS.get(dim, "#555")}">'
            f"{escape(dim)}</text>"
        )
        legend_x += 80
    parts.append("</svg>")
    return "".join(parts)


def leaderboard_svg(board: dict, *, width: int = 520, row: int = 26) -> str:
    """One leaderboard (a media type and a dimension): each generator's MOS with its 95% interval, best at
    the top; a dashed rule between neighbours not yet separated."""
    gens = board["generators"]
    pad_l, pad_r, pad_t, pad_b = 150, 20, 10, 30
    height = pad_t + pad_b + row * max(len(gens), 1)
    w = width - pad_l - pad_r
    lo = min([g["ci95"][0] for g in gens if g["ci95"]] + [g["mos"] for g in gens] + [1.0])
    hi = max([g["ci95"][1] for g in gens if g["ci95"]] + [g["mos"] for g in gens] + [5.0])
    lo, hi = max(0.8, lo - 0.1), min(5.2, hi + 0.1)

    def sx(v: float) -> float:
        return pad_l + (v - lo) / (hi - lo) * w

    title = f"{board['media_type']} {board['dimension']}: MOS per generator with 95% intervals"
    parts = [
        f'<svg class="leaderboard" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for v in range(1, 6):
        if lo <= v <= hi:
            parts.append(
                f'<line x1="{sx(v):.1f}" x2="{sx(v):.1f}" y1="{pad_t}" y2="{height - pad_b}" stroke="#e3e6ea"/>'
                f'<text x="{sx(v):.1f}" y="{height - pad_b + 14}" text-anchor="middle" font-size="11">{v}</text>'
            )
    parts.append(f'<text x="{pad_l + w / 2}" y="{height - 4}" text-anchor="middle" font-size="11">MOS</text>')
    for i, g in enumerate(gens):
        y = pad_t + row * i + row / 2
        parts.append(
            f'<text x="{pad_l - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="12">{escape(g["generator"])}</text>'
        )
        if g["ci95"]:
            parts.append(
                f'<line x1="{sx(g["ci95"][0]):.1f}" x2="{sx(g["ci95"][1]):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="#2457d6" stroke-width="2"/>'
            )
        label = f"{g['generator']}: MOS {g['mos']:.2f} over {g['items']} items, {g['ratings']} ratings"
        if g["ci95"]:
            label += f" [{g['ci95'][0]:.2f}, {g['ci95'][1]:.2f}]"
        parts.append(
            f'<circle cx="{sx(g["mos"]):.1f}" cy="{y:.1f}" r="4.5" fill="#2457d6"><title>{escape(label)}</title></circle>'
        )
        nxt = g.get("next")
        if nxt and not nxt["separated"]:
            yb = y + row / 2
            parts.append(
                f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{yb:.1f}" y2="{yb:.1f}" stroke="#b07d00" '
                f'stroke-dasharray="4 3"><title>not yet separated from the next</title></line>'
            )
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------ research pages (matplotlib, Agg)

DIMENSION_TITLES = {"quality": "visual quality", "alignment": "alignment"}
MOS_LIMITS = (0.6, 5.4)  # padded beyond 1-5, so MOS of exactly 1.0 or 5.0 never sits on the frame


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def _svg(fig) -> str:
    import io

    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # the SVG is inlined in the page: drop the XML prologue


def _empty(text: str) -> str:
    fig, ax = _figure(figsize=(5, 1.2))
    ax.text(0.5, 0.5, text, ha="center", va="center")
    ax.axis("off")
    return _svg(fig)


def violin_svg(groups: dict[tuple[str, str], dict[str, list[float]]], *, order: list[str]) -> str:
    """MOS per generator as violins (the paper's Fig. 4): one panel per media type x dimension, generators
    in `order` (the same in every panel), the median as a tick, the count beside each name. Groups with
    fewer than two distinct values (no density to draw) show their points."""
    panels = [(m, d) for m in ("image", "video") for d in ("quality", "alignment") if (m, d) in groups]
    if not panels:
        return _empty("no scores in this version")
    fig, axes = _figure(
        len(panels),
        1,
        figsize=(9, 0.6 + sum(0.42 * len([g for g in order if g in groups[p]]) + 0.9 for p in panels)),
        squeeze=False,
    )
    for ax, (media_type, dim) in zip(axes[:, 0], panels):
        by_gen = groups[(media_type, dim)]
        names = [g for g in order if g in by_gen][::-1]  # first generator on top
        positions = list(range(1, len(names) + 1))
        spread = [(p, by_gen[n]) for p, n in zip(positions, names) if len(set(by_gen[n])) > 1]
        if spread:
            parts = ax.violinplot(
                [v for _, v in spread],
                positions=[p for p, _ in spread],
                orientation="horizontal",
                showmedians=True,
                showextrema=False,
                widths=0.8,
            )
            for body in parts["bodies"]:
                body.set_facecolor(DIMENSION_COLOURS.get(dim, "#555"))
                body.set_edgecolor("#1b1f24")
                body.set_alpha(0.55)
            parts["cmedians"].set_color("#1b1f24")
        for p, n in zip(positions, names):
            values = by_gen[n]
            if len(set(values)) <= 1:
                ax.scatter(values, [p] * len(values), s=14, color=DIMENSION_COLOURS.get(dim, "#555"), zorder=3)
        ax.set_yticks(positions, [f"{n} (n={len(by_gen[n])})" for n in names])
        ax.set_xlim(*MOS_LIMITS)
        ax.set_xticks([1, 2, 3, 4, 5])
        ax.set_ylim(0.4, len(names) + 0.6)
        ax.grid(axis="x", color="#d5dae1", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.set_xlabel("MOS (1 = Bad, 5 = Excellent)", fontsize=9)
        ax.set_title(f"{media_type}: {DIMENSION_TITLES.get(dim, dim)} MOS by generator", fontsize=10)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    return _svg(fig)


def annotators_svg(rows: list[dict]) -> str:
    """Each annotator's bias (mean rating minus the MOS) against their inconsistency, per dimension; those the
    model screened out as crosses."""
    points = [r for r in rows if r.get("bias") is not None and r.get("inconsistency") is not None]
    if not points:
        return _empty("no annotator figures yet")
    fig, ax = _figure(figsize=(6.5, 4))
    for dim, marker in (("quality", "o"), ("alignment", "s")):
        mine = [r for r in points if r["dimension"] == dim]
        kept = [r for r in mine if not r["rejected"]]
        dropped = [r for r in mine if r["rejected"]]
        if kept:
            ax.scatter(
                [r["bias"] for r in kept],
                [r["inconsistency"] for r in kept],
                s=18,
                marker=marker,
                alpha=0.7,
                color=DIMENSION_COLOURS.get(dim, "#555"),
                label=DIMENSION_TITLES.get(dim, dim),
            )
        if dropped:
            ax.scatter(
                [r["bias"] for r in dropped],
                [r["inconsistency"] for r in dropped],
                s=26,
                marker="x",
                color="#c23b22",
                label=f"{DIMENSION_TITLES.get(dim, dim)}: screened out",
            )
    ax.axvline(0, color="#5d6670", lw=0.8)
    ax.grid(color="#e3e6ea", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.set_xlabel("bias: mean rating minus MOS (points)")
    ax.set_ylabel("inconsistency: spread of residuals")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return _svg(fig)

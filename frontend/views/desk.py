"""The approval desk (admins only): the queue of scrutinized batches, a batch page with scatter plots
of the batch's ratings against the golden scores, approve / reject with a reason, and each
annotator's history with pause / resume. Plots are small inline SVGs made here (no JavaScript)."""
from __future__ import annotations

from functools import wraps
from html import escape
from urllib.parse import urlencode

import numpy as np
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe

from annotation.models import AnnotatorProfile, Batch, Campaign, GoldenScore, Rating
from annotation.roles import ADMIN, user_has_role
from annotation.services.errors import ServiceError
from annotation.services.scrutiny import annotator_pause, annotator_resume, batch_admin_decide, batch_rows

User = get_user_model()
PAGE_SIZE = 50
# needs_review first: that is the admin's work; then batches still waiting for scrutiny.
DECISION_ORDER = Case(
    When(decision=Batch.Decision.NEEDS_REVIEW, then=Value(0)),
    When(decision=Batch.Decision.PENDING, then=Value(1)),
    When(decision=Batch.Decision.REJECTED, then=Value(2)),
    default=Value(3), output_field=IntegerField(),
)


def admin_required(view):
    """Anonymous users go to the login page; logged-in users without the admin role get 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not user_has_role(request.user, ADMIN):
            raise PermissionDenied("The approval desk is for admins.")
        return view(request, *args, **kwargs)

    return wrapper


def _all_dimensions(campaigns) -> list[str]:
    dims: list[str] = []
    for c in campaigns:
        dims += [d for d in c.dimensions if d not in dims]
    return dims or ["quality", "alignment"]


# ------------------------------------------------------------------------------------------ queue


@admin_required
def queue(request):
    campaigns = list(Campaign.objects.all())
    qs = Batch.objects.filter(status=Batch.Status.CLOSED).exclude(kind=Batch.Kind.EXPERT)
    filters = {k: request.GET.get(k, "").strip() for k in ("campaign", "decision", "kind", "annotator", "source")}
    if filters["campaign"]:
        qs = qs.filter(campaign__slug=filters["campaign"])
    if filters["decision"] in Batch.Decision.values:
        qs = qs.filter(decision=filters["decision"])
    if filters["kind"] in (Batch.Kind.ANNOTATION, Batch.Kind.IMPORTED):
        qs = qs.filter(kind=filters["kind"])
    if filters["source"] in ("auto", "admin"):
        qs = qs.filter(decision_source=filters["source"])
    if filters["annotator"]:
        qs = qs.filter(annotator__username__icontains=filters["annotator"])
    qs = qs.select_related("annotator", "decided_by", "campaign").order_by(DECISION_ORDER, "-closed_at", "-pk")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    shown = [c for c in campaigns if c.slug == filters["campaign"]] or campaigns
    dims = _all_dimensions(shown)
    batches = list(page.object_list)
    rows = batch_rows(batches=batches, dimensions=dims)
    for row, batch in zip(rows, batches):
        row["campaign"] = batch.campaign.slug
        row["cells"] = [row["figures"][d] for d in dims]
    by_decision = dict(
        Batch.objects.filter(status=Batch.Status.CLOSED).exclude(kind=Batch.Kind.EXPERT)
        .filter(**({"campaign__slug": filters["campaign"]} if filters["campaign"] else {}))
        .values_list("decision").annotate(n=Count("pk")).values_list("decision", "n")
    )
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(request, "frontend/desk/queue.html", {
        "rows": rows, "page": page, "dims": dims, "filters": filters, "campaigns": campaigns,
        "decisions": Batch.Decision.choices, "query": query,
        "counts": [(value, label, by_decision.get(value, 0)) for value, label in Batch.Decision.choices],
    })


# ------------------------------------------------------------------------------------------ batch


def _pairs(batch: Batch) -> tuple[dict[str, list[tuple[float, int]]], list[dict]]:
    """(golden, rating) pairs per dimension, and table rows (item, rating and golden per dimension)."""
    dims = batch.campaign.dimensions
    ratings = list(Rating.objects.filter(batch=batch).order_by("item_id")
                   .values("item_id", "item__item_id", *dims))
    golden: dict[tuple[int, str], float] = {
        (i, d): s for i, d, s in GoldenScore.objects.filter(item__ratings__batch=batch).values_list("item_id", "dimension", "score")
    }
    pairs: dict[str, list[tuple[float, int]]] = {d: [] for d in dims}
    table = []
    for r in ratings:
        cells, any_golden = [], False
        for d in dims:
            g = golden.get((r["item_id"], d))
            if g is not None and r[d] is not None:
                pairs[d].append((g, r[d]))
            any_golden |= g is not None
            cells.append({"rating": r[d], "golden": g})
        if any_golden:
            table.append({"item_id": r["item__item_id"], "cells": cells})
    return pairs, table


def scatter_svg(pairs: list[tuple[float, int]], *, title: str, seed: int, size: int = 280) -> str:
    """Ratings (y, jittered a little: they are integers) against golden scores (x), on 1-5 axes,
    with the diagonal y = x. Deterministic jitter (seeded) so the page does not shimmer on reload."""
    pad, inner = 34, size - 48
    rng = np.random.default_rng(seed)

    def sx(v: float) -> float:
        return pad + (v - 1) / 4 * inner

    def sy(v: float) -> float:
        return 8 + inner - (v - 1) / 4 * inner

    parts = [f'<svg class="scatter" viewBox="0 0 {size} {size}" width="{size}" height="{size}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    parts.append(f'<rect x="{pad}" y="8" width="{inner}" height="{inner}" fill="#fafbfc" stroke="#c5cbd3"/>')
    for v in range(1, 6):
        parts.append(f'<line x1="{sx(v):.1f}" y1="{8 + inner}" x2="{sx(v):.1f}" y2="{8 + inner + 4}" stroke="#5d6670"/>'
                     f'<text x="{sx(v):.1f}" y="{8 + inner + 16}" text-anchor="middle" font-size="11">{v}</text>'
                     f'<line x1="{pad - 4}" y1="{sy(v):.1f}" x2="{pad}" y2="{sy(v):.1f}" stroke="#5d6670"/>'
                     f'<text x="{pad - 7}" y="{sy(v) + 4:.1f}" text-anchor="end" font-size="11">{v}</text>')
    parts.append(f'<line x1="{sx(1)}" y1="{sy(1)}" x2="{sx(5)}" y2="{sy(5)}" stroke="#9aa3ad" stroke-dasharray="4 3"/>')
    jitter = rng.uniform(-0.15, 0.15, size=(len(pairs), 2))
    for (g, r), (jx, jy) in zip(pairs, jitter):
        parts.append(f'<circle class="pt" cx="{sx(g + jx * 0.3):.1f}" cy="{sy(r + jy):.1f}" r="4" '
                     f'fill="#2457d6" fill-opacity=".6"><title>golden {g:.2f}, rating {r}</title></circle>')
    parts.append(f'<text x="{pad + inner / 2}" y="{size - 4}" text-anchor="middle" font-size="11">golden score</text>'
                 f'<text x="10" y="{8 + inner / 2}" text-anchor="middle" font-size="11" '
                 f'transform="rotate(-90 10 {8 + inner / 2})">rating</text></svg>')
    return "".join(parts)


@admin_required
def batch_detail(request, batch_id: int):
    batch = get_object_or_404(Batch.objects.select_related("annotator", "decided_by", "campaign"), pk=batch_id)
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        try:
            batch_admin_decide(batch_id=batch.pk, decision=decision, reason=request.POST.get("reason", ""),
                               user=request.user)
        except ServiceError as exc:
            messages.error(request, f"Not saved: {exc.message}.")
        else:
            word = "approved" if decision == "approve" else "rejected"
            messages.success(request, f"Batch {batch.pk} {word}.")
        return redirect("desk-batch", batch_id=batch.pk)
    dims = batch.campaign.dimensions
    row = batch_rows(batches=[batch], dimensions=dims)[0]
    pairs, table = _pairs(batch)
    plots = []
    for d in dims:
        f = row["figures"][d]
        title = f"{d}: n={f['n_golden']}, SRCC {_fmt(f['srcc'])}, PLCC {_fmt(f['plcc'])}"
        plots.append({"dimension": d, "figures": f,
                      "svg": mark_safe(scatter_svg(pairs[d], title=title, seed=batch.pk * 7 + len(d)))})
    return render(request, "frontend/desk/batch.html", {
        "batch": batch, "row": row, "plots": plots, "dims": dims, "table": table,
        "decidable": batch.status == Batch.Status.CLOSED and batch.kind != Batch.Kind.EXPERT,
        "n_ratings": Rating.objects.filter(batch=batch).count(),
    })


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.2f}"


# -------------------------------------------------------------------------------------- annotator


def history_svg(points: dict[str, list[float | None]], *, approve: float, reject: float,
                width: int = 560, height: int = 180) -> str:
    """SRCC per dimension over the annotator's batches (oldest left), with the two thresholds dashed."""
    colors = {"quality": "#2457d6", "alignment": "#c2761f"}
    pad_l, pad_r, pad_t, pad_b = 36, 10, 10, 22
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    n = max((len(v) for v in points.values()), default=0)

    def sx(i: int) -> float:
        return pad_l + (w * i / (n - 1) if n > 1 else w / 2)

    def sy(v: float) -> float:
        return pad_t + h - (v + 1) / 2 * h

    parts = [f'<svg class="history" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="SRCC per batch over time"><title>SRCC per batch over time</title>',
             f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" fill="#fafbfc" stroke="#c5cbd3"/>']
    for v in (-1, 0, 1):
        parts.append(f'<text x="{pad_l - 5}" y="{sy(v) + 4:.1f}" text-anchor="end" font-size="11">{v}</text>')
    for v, label in ((approve, "approve"), (reject, "reject")):
        parts.append(f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" stroke="#9aa3ad" '
                     f'stroke-dasharray="4 3"><title>{label} threshold {v:g}</title></line>')
    for dim, values in points.items():
        color = colors.get(dim, "#555")
        segment: list[str] = []
        for i, v in enumerate(values + [None]):
            if v is None:
                if len(segment) > 1:
                    parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(segment)}"/>')
                segment = []
                continue
            segment.append(f"{sx(i):.1f},{sy(v):.1f}")
            parts.append(f'<circle cx="{sx(i):.1f}" cy="{sy(v):.1f}" r="3" fill="{color}">'
                         f'<title>{escape(dim)} SRCC {v:.2f}</title></circle>')
    legend_x = pad_l
    for dim in points:
        parts.append(f'<text x="{legend_x}" y="{height - 5}" font-size="11" fill="{colors.get(dim, "#555")}">'
                     f'{escape(dim)}</text>')
        legend_x += 80
    parts.append("</svg>")
    return "".join(parts)


@admin_required
def annotator_detail(request, user_id: int):
    person = get_object_or_404(User, pk=user_id)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "pause":
                annotator_pause(user=person, reason=request.POST.get("reason", ""))
                messages.success(request, f"{person.username} is paused: no new batches.")
            elif request.POST.get("action") == "resume":
                annotator_resume(user=person)
                messages.success(request, f"{person.username} can take batches again.")
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect("desk-annotator", user_id=person.pk)
    profile, _ = AnnotatorProfile.objects.get_or_create(user=person)
    batches = list(Batch.objects.filter(annotator=person, status=Batch.Status.CLOSED).exclude(kind=Batch.Kind.EXPERT)
                   .select_related("campaign", "decided_by", "annotator").order_by("closed_at", "pk")[:500])
    dims = _all_dimensions({b.campaign for b in batches})
    rows = batch_rows(batches=batches, dimensions=dims)
    for row, b in zip(rows, batches):
        row["campaign"] = b.campaign.slug
        row["cells"] = [row["figures"][d] for d in dims]
    decided = Batch.objects.filter(annotator=person).aggregate(
        approved=Count("pk", filter=Q(decision=Batch.Decision.APPROVED, kind__in=["annotation", "imported"])),
        rejected=Count("pk", filter=Q(decision=Batch.Decision.REJECTED)),
        review=Count("pk", filter=Q(decision=Batch.Decision.NEEDS_REVIEW)),
    )
    done = decided["approved"] + decided["rejected"]
    rate = decided["approved"] / done if done else None
    latest = batches[-1].campaign if batches else None
    svg = history_svg(
        {d: [r["figures"][d]["srcc"] for r in rows] for d in dims},
        approve=latest.approve_threshold if latest else 0.7, reject=latest.reject_threshold if latest else 0.4,
    ) if rows else ""
    return render(request, "frontend/desk/annotator.html", {
        "person": person, "profile": profile, "rows": list(reversed(rows)), "dims": dims, "decided": decided,
        "approval_rate": rate, "history": mark_safe(svg),
    })


__all__ = ["annotator_detail", "batch_detail", "queue"]

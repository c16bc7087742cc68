"""The approval desk (admins only): the queue of scrutinized batches, the review queue by risk with
next / previous, a batch page where an admin judges a batch in seconds (every rated item with its media,
the ratings beside the golden scores or the current MOS, time per item, the patterns found, the
annotator's evidence over time, the audit trail; keys a / r / n / p), each annotator's record with
pause / resume, and the reusable reasons. Reads come from annotation/selectors, plots from
frontend/plots.py."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, Count, F, IntegerField, Q, Value, When
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe

from annotation.models import AnnotatorProfile, Batch, Campaign, GoldenScore, Rating, ReasonTemplate
from annotation.selectors.review import (
    annotator_audit,
    annotator_evidence,
    batch_audit,
    evidence_history,
    review_items,
    review_neighbours,
    review_queue,
)
from annotation.services.scrutiny import annotator_pause, annotator_resume, batch_admin_decide, batch_rows
from core.errors import ServiceError
from core.roles import ADMIN, user_has_role

from ..plots import evidence_svg, history_svg, scatter_svg

User = get_user_model()
PAGE_SIZE = 50
# needs_review first: that is the admin's work; then batches still waiting for scrutiny.
DECISION_ORDER = Case(
    When(decision=Batch.Decision.NEEDS_REVIEW, then=Value(0)),
    When(decision=Batch.Decision.PENDING, then=Value(1)),
    When(decision=Batch.Decision.REJECTED, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
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


def _with_cells(rows: list[dict], batches, dims: list[str]) -> list[dict]:
    for row, batch in zip(rows, batches):
        row["campaign"] = batch.campaign.slug
        cumulative = (row["evidence"] or {}).get("cumulative") or {}
        row["cells"] = [{**row["figures"][d], "cum": cumulative.get(d)} for d in dims]
        row["patterns"] = (row["evidence"] or {}).get("patterns") or []
        row["decision_label"] = Batch.Decision(row["decision"]).label
    return rows


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
    qs = qs.select_related("annotator", "decided_by", "campaign").order_by(
        DECISION_ORDER, F("risk").desc(nulls_last=True), "-closed_at", "-pk"
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    shown = [c for c in campaigns if c.slug == filters["campaign"]] or campaigns
    dims = _all_dimensions(shown)
    batches = list(page.object_list)
    rows = _with_cells(batch_rows(batches=batches, dimensions=dims), batches, dims)
    by_decision = dict(
        Batch.objects.filter(status=Batch.Status.CLOSED)
        .exclude(kind=Batch.Kind.EXPERT)
        .filter(**({"campaign__slug": filters["campaign"]} if filters["campaign"] else {}))
        .values_list("decision")
        .annotate(n=Count("pk"))
        .values_list("decision", "n")
    )
    first = review_queue(campaign_slug=filters["campaign"] or None).values_list("pk", flat=True).first()
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "frontend/desk/queue.html",
        {
            "rows": rows,
            "page": page,
            "dims": dims,
            "filters": filters,
            "campaigns": campaigns,
            "decisions": Batch.Decision.choices,
            "query": query,
            "first_in_review": first,
            "counts": [(value, label, by_decision.get(value, 0)) for value, label in Batch.Decision.choices],
        },
    )


# ------------------------------------------------------------------------------------------ batch


def _golden_pairs(batch: Batch) -> dict[str, list[tuple[float, int]]]:
    dims = batch.campaign.dimensions
    golden = {
        (i, d): s
        for i, d, s in GoldenScore.objects.filter(item__ratings__batch=batch).values_list(
            "item_id", "dimension", "score"
        )
    }
    pairs: dict[str, list[tuple[float, int]]] = {d: [] for d in dims}
    for row in Rating.objects.filter(batch=batch).order_by("item_id").values("item_id", *dims):
        for d in dims:
            g = golden.get((row["item_id"], d))
            if g is not None and row[d] is not None:
                pairs[d].append((g, row[d]))
    return pairs


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def _in_review_scope(request) -> str | None:
    """The campaign the admin is reviewing (next / previous stay within it), from ?campaign=."""
    slug = (request.GET.get("campaign") or request.POST.get("campaign") or "").strip()
    return slug or None


@admin_required
def batch_detail(request, batch_id: int):
    batch = get_object_or_404(Batch.objects.select_related("annotator", "decided_by", "campaign"), pk=batch_id)
    scope = _in_review_scope(request)
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        try:
            batch_admin_decide(
                batch_id=batch.pk, decision=decision, reason=request.POST.get("reason", ""), user=request.user
            )
        except ServiceError as exc:
            messages.error(request, f"Not saved: {exc.message}.")
            return redirect(_batch_url(batch.pk, scope))
        word = "approved" if decision == "approve" else "rejected"
        messages.success(request, f"Batch {batch.pk} {word}.")
        batch.refresh_from_db()
        if request.POST.get("then") == "next":
            _, nxt = review_neighbours(batch=batch, campaign_slug=scope)
            if nxt:
                return redirect(_batch_url(nxt, scope))
        return redirect(_batch_url(batch.pk, scope))
    dims = batch.campaign.dimensions
    row = batch_rows(batches=[batch], dimensions=dims)[0]
    evidence = row["evidence"] or {}
    pairs = _golden_pairs(batch)
    plots = []
    for d in dims:
        f = row["figures"][d]
        title = f"{d}: n={f['n_golden']}, SRCC {_fmt(f['srcc'])}, PLCC {_fmt(f['plcc'])}"
        plots.append(
            {
                "dimension": d,
                "figures": f,
                "cumulative": (evidence.get("cumulative") or {}).get(d),
                "reference": (evidence.get("reference") or {}).get(d),
                "svg": mark_safe(scatter_svg(pairs[d], title=title, seed=batch.pk * 7 + len(d))),
            }
        )
    history = evidence_history(annotator_id=batch.annotator_id, campaign_id=batch.campaign_id)
    evidence_plots = [mark_safe(evidence_svg(history, dimension=d, current=batch.pk)) for d in dims] if history else []
    prev_id, next_id = review_neighbours(batch=batch, campaign_slug=scope)
    items = review_items(batch=batch)
    return render(
        request,
        "frontend/desk/batch.html",
        {
            "batch": batch,
            "row": row,
            "evidence": evidence,
            "plots": plots,
            "dims": dims,
            "items": items,
            "evidence_plots": evidence_plots,
            "audit": list(batch_audit(batch=batch)),
            "templates": list(ReasonTemplate.objects.all()),
            "prev_id": prev_id,
            "next_id": next_id,
            "scope": scope or "",
            "decidable": batch.status == Batch.Status.CLOSED and batch.kind != Batch.Kind.EXPERT,
            "n_ratings": len(items),
            "n_golden_items": sum(i["is_golden"] for i in items),
        },
    )


def _batch_url(batch_id: int, scope: str | None) -> str:
    url = reverse("desk-batch", args=[batch_id])
    return f"{url}?{urlencode({'campaign': scope})}" if scope else url


@admin_required
def review_start(request):
    """The riskiest batch waiting for review (in ?campaign= when given), or the queue when none waits."""
    scope = _in_review_scope(request)
    first = review_queue(campaign_slug=scope).values_list("pk", flat=True).first()
    if first is None:
        messages.info(request, "Nothing waits for review.")
        return redirect("desk")
    return redirect(_batch_url(first, scope))


# -------------------------------------------------------------------------------------- annotator


@admin_required
def annotator_detail(request, user_id: int):
    person = get_object_or_404(User, pk=user_id)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "pause":
                annotator_pause(user=person, reason=request.POST.get("reason", ""), by=request.user)
                messages.success(request, f"{person.username} is paused: no new batches.")
            elif request.POST.get("action") == "resume":
                annotator_resume(user=person, by=request.user)
                messages.success(request, f"{person.username} can take batches again.")
        except ServiceError as exc:
            messages.error(request, exc.message)
        return redirect("desk-annotator", user_id=person.pk)
    profile, _ = AnnotatorProfile.objects.get_or_create(user=person)
    batches = list(
        Batch.objects.filter(annotator=person, status=Batch.Status.CLOSED)
        .exclude(kind=Batch.Kind.EXPERT)
        .select_related("campaign", "decided_by", "annotator")
        .order_by("closed_at", "pk")[:500]
    )
    dims = _all_dimensions({b.campaign for b in batches})
    rows = _with_cells(batch_rows(batches=batches, dimensions=dims), batches, dims)
    decided = Batch.objects.filter(annotator=person).aggregate(
        approved=Count("pk", filter=Q(decision=Batch.Decision.APPROVED, kind__in=["annotation", "imported"])),
        rejected=Count("pk", filter=Q(decision=Batch.Decision.REJECTED)),
        review=Count("pk", filter=Q(decision=Batch.Decision.NEEDS_REVIEW)),
    )
    done = decided["approved"] + decided["rejected"]
    rate = decided["approved"] / done if done else None
    latest = batches[-1].campaign if batches else None
    svg = (
        history_svg(
            {d: [r["figures"][d]["srcc"] for r in rows] for d in dims},
            approve=latest.approve_threshold if latest else 0.7,
            reject=latest.reject_threshold if latest else 0.4,
        )
        if rows
        else ""
    )
    return render(
        request,
        "frontend/desk/annotator.html",
        {
            "person": person,
            "profile": profile,
            "rows": list(reversed(rows)),
            "dims": dims,
            "decided": decided,
            "approval_rate": rate,
            "history": mark_safe(svg),
            "evidence": list(annotator_evidence(annotator_id=person.pk)),
            "audit": list(annotator_audit(annotator_id=person.pk)),
        },
    )


# ------------------------------------------------------------------------------------- held items


@admin_required
def held(request):
    """Items the screening scorer held for a quick check (training/services/screening.py)."""
    from training.models import ItemCheck
    from training.services.screening import item_check_decide

    if request.method == "POST":
        try:
            check = item_check_decide(
                item_id=int(request.POST.get("item", 0)), decision=request.POST.get("decision", ""), user=request.user
            )
            messages.success(request, f"Item {check.item.item_id}: {check.get_status_display().lower()}.")
        except (ServiceError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", "Not saved: bad request."))
        return redirect(request.get_full_path())
    checks = ItemCheck.objects.filter(status=ItemCheck.Status.HELD).select_related(
        "item", "item__campaign", "item__generator"
    )
    if request.GET.get("campaign"):
        checks = checks.filter(item__campaign__slug=request.GET["campaign"])
    return render(request, "frontend/desk/held.html", {"checks": list(checks.order_by("created_at")[:200])})


# ------------------------------------------------------------------------------- reason templates


@admin_required
def reasons(request):
    if request.method == "POST":
        if request.POST.get("delete"):
            ReasonTemplate.objects.filter(pk=request.POST["delete"]).delete()
            messages.success(request, "Reason removed.")
        else:
            text = (request.POST.get("text") or "").strip()
            if not text or len(text) > 300:
                messages.error(request, "A reason needs 1 to 300 characters.")
            else:
                ReasonTemplate.objects.get_or_create(text=text, defaults={"created_by": request.user})
                messages.success(request, "Reason added.")
        return redirect("desk-reasons")
    return render(request, "frontend/desk/reasons.html", {"templates": ReasonTemplate.objects.all()})


__all__ = ["annotator_detail", "batch_detail", "held", "queue", "reasons", "review_start"]

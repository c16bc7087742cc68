"""The approval desk (admins only): the queue of scrutinized batches, the review queue by risk with
next / previous, a batch page where an admin judges a batch in seconds (every rated item with its media,
the ratings beside the golden scores or the current MOS, time per item, the patterns found, the
annotator's evidence over time, the audit trail; keys a / r / n / p), each annotator's record with
pause / resume, and the reusable reasons. Reads come from annotation/selectors, plots from
frontend/plots.py."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe

from annotation.models import DIMENSIONS, Batch
from annotation.selectors.desk import (
    QUEUE_FILTERS,
    annotator_closed_batches,
    annotator_decided_counts,
    annotator_profile,
    campaign_list,
    desk_batch,
    golden_pairs,
    person_get,
    queue_batches,
    queue_decision_counts,
    reason_templates,
    threshold_defaults,
)
from annotation.selectors.flags import flagged_items
from annotation.selectors.review import (
    REVIEW_KINDS,
    annotator_audit,
    annotator_evidence,
    batch_audit,
    evidence_history,
    review_items,
    review_neighbours,
    review_queue,
)
from annotation.services.flags import flags_resolve
from annotation.services.reasons import reason_template_add, reason_template_remove
from annotation.services.scrutiny import annotator_pause, annotator_resume, batch_admin_decide, batch_rows
from core.errors import ServiceError
from core.roles import ADMIN

from ..access import role_required
from ..plots import evidence_svg, history_svg, scatter_svg

PAGE_SIZE = 50
admin_required = role_required(
    ADMIN, message="The approval desk is for admins: ask an admin to give you the admin role."
)


def _all_dimensions(campaigns) -> list[str]:
    dims: list[str] = []
    for c in campaigns:
        dims += [d for d in c.dimensions if d not in dims]
    return dims or list(DIMENSIONS)


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
    campaigns = campaign_list()
    filters = {k: request.GET.get(k, "").strip() for k in QUEUE_FILTERS}
    page = Paginator(queue_batches(filters=filters), PAGE_SIZE).get_page(request.GET.get("page"))
    shown = [c for c in campaigns if c.slug == filters["campaign"]] or campaigns
    dims = _all_dimensions(shown)
    batches = list(page.object_list)
    rows = _with_cells(batch_rows(batches=batches, dimensions=dims), batches, dims)
    by_decision = queue_decision_counts(campaign_slug=filters["campaign"] or None)
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
            "kinds": [(k, Batch.Kind(k).label) for k in REVIEW_KINDS],
            "query": query,
            "first_in_review": first,
            "counts": [(value, label, by_decision.get(value, 0)) for value, label in Batch.Decision.choices],
        },
    )


# ------------------------------------------------------------------------------------------ batch


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def _in_review_scope(request) -> str | None:
    """The campaign the admin is reviewing (next / previous stay within it), from ?campaign=."""
    slug = (request.GET.get("campaign") or request.POST.get("campaign") or "").strip()
    return slug or None


@admin_required
def batch_detail(request, batch_id: int):
    batch = desk_batch(batch_id=batch_id)
    if batch is None:
        raise Http404(f"There is no batch {batch_id}.")
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
    pairs = golden_pairs(batch=batch)
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
            "templates": reason_templates(),
            "prev_id": prev_id,
            "next_id": next_id,
            "scope": scope or "",
            "decidable": batch.status == Batch.Status.CLOSED and batch.kind in REVIEW_KINDS,
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
    person = person_get(user_id=user_id)
    if person is None:
        raise Http404(f"There is no user {user_id}.")
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
    profile = annotator_profile(user=person)
    batches = annotator_closed_batches(user=person)
    dims = _all_dimensions({b.campaign for b in batches})
    rows = _with_cells(batch_rows(batches=batches, dimensions=dims), batches, dims)
    decided = annotator_decided_counts(user=person)
    done = decided["approved"] + decided["rejected"]
    rate = decided["approved"] / done if done else None
    latest = batches[-1].campaign if batches else None
    approve, reject = (latest.approve_threshold, latest.reject_threshold) if latest else threshold_defaults()
    svg = (
        history_svg({d: [r["figures"][d]["srcc"] for r in rows] for d in dims}, approve=approve, reject=reject)
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


# ------------------------------------------------------------------------------- reason templates


@admin_required
def reasons(request):
    if request.method == "POST":
        try:
            if request.POST.get("delete"):
                reason_template_remove(template_id=request.POST["delete"])
                messages.success(request, "Reason removed.")
            else:
                reason_template_add(text=request.POST.get("text", ""), user=request.user)
                messages.success(request, "Reason added.")
        except ServiceError as exc:
            messages.error(request, f"Not saved: {exc.message}.")
        return redirect("desk-reasons")
    return render(request, "frontend/desk/reasons.html", {"templates": reason_templates()})


# ---------------------------------------------------------------------------------------- flagged items


@admin_required
def held(request):
    """Items the screening scorer held for a quick check (training/services/screening.py)."""
    from training.selectors import held_checks
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
    return render(
        request, "frontend/desk/held.html", {"checks": held_checks(campaign_slug=request.GET.get("campaign"))}
    )


@admin_required
def flags(request):
    """Items annotators flagged (broken, unsafe, prompt missing, other), most flagged first: dismiss the flags
    (the item is fine) or retire the item (no more ratings)."""
    if request.method == "POST":
        try:
            result = flags_resolve(
                item_id=int(request.POST.get("item", 0)), decision=request.POST.get("decision", ""), user=request.user
            )
            if result["decision"] == "dismiss":
                n = result["flags"]
                messages.success(request, f"Item {result['item']}: {n} flag{'s' if n != 1 else ''} dismissed.")
            else:
                messages.success(request, f"Item {result['item']} retired: it gets no more ratings.")
        except (ServiceError, ValueError) as exc:
            messages.error(request, f"Not saved: {getattr(exc, 'message', 'unknown item')}.")
        return redirect(request.get_full_path())
    scope = _in_review_scope(request)
    return render(
        request,
        "frontend/desk/flags.html",
        {"rows": flagged_items(campaign_slug=scope), "scope": scope or "", "campaigns": campaign_list()},
    )


__all__ = ["annotator_detail", "batch_detail", "flags", "queue", "reasons", "review_start"]

"""The admins' management pages: campaigns (create, edit every setting), content import (a zip or a server
folder, with live progress on the job page), the golden sample (create or grow it, import golden scores),
and accounts with their roles. Researchers may import content too, as in the API.

Everything goes through the same services as the command line and the API, with the same validation.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render

from annotation.selectors.manage import campaign_jobs, campaigns_overview, golden_overview, user_list
from annotation.services.campaigns import campaign_create, campaign_get, campaign_update
from annotation.services.golden import golden_import, golden_set_create
from annotation.services.imports import archive_check, archive_store, server_path_resolve
from annotation.services.jobs import job_create, job_enqueue
from annotation.services.users import user_active_set, user_add, user_roles_set
from core.errors import NotFound, ServiceError
from core.roles import ADMIN, RESEARCHER, ROLES

from ..access import role_required
from ..forms import CampaignForm, GoldenScoresForm, GoldenSetForm, ImportForm, UserCreateForm, UserRolesForm

admin_required = role_required(ADMIN, message="Managing campaigns and accounts is for admins.")
importer_required = role_required(RESEARCHER, ADMIN, message="Importing content is for researchers and admins.")
USERS_PER_PAGE = 50
MAX_GOLDEN_CSV = 20 * 1024 * 1024


def _posted(request):
    """The submitted data, bound even when empty (an empty form must say what is missing)."""
    return request.POST if request.method == "POST" else None


def _campaign(slug: str):
    try:
        return campaign_get(slug=slug)
    except NotFound as exc:
        raise Http404(exc.message) from None


# ------------------------------------------------------------------------------------------ campaigns


@admin_required
def index(request):
    return render(request, "frontend/manage/index.html", {"rows": campaigns_overview()})


@admin_required
def campaign_new(request):
    form = CampaignForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            campaign = campaign_create(slug=form.cleaned_data["slug"], **form.settings())
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Campaign {campaign.slug} created. Next: import its content.")
            return redirect("manage-import", slug=campaign.slug)
    return render(
        request,
        "frontend/manage/campaign_form.html",
        {"form": form, "campaign": None},
        status=400 if form.errors else 200,
    )


@admin_required
def campaign_edit(request, slug: str):
    campaign = _campaign(slug)
    form = CampaignForm(_posted(request), instance=_campaign(slug), editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            campaign_update(campaign=campaign, **form.settings())
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Settings of {campaign.slug} saved.")
            return redirect("manage-campaign", slug=campaign.slug)
    return render(
        request,
        "frontend/manage/campaign_form.html",
        {"form": form, "campaign": campaign},
        status=400 if form.errors else 200,
    )


# --------------------------------------------------------------------------------------------- import


@importer_required
def import_content(request, slug: str):
    """Start an import job (all rows or none) and follow it on the job page: live progress, and the first bad
    row named when it fails."""
    campaign = _campaign(slug)
    form = ImportForm(_posted(request), request.FILES if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            manifest = (form.cleaned_data.get("manifest") or "").strip() or None
            archive = form.cleaned_data.get("archive")
            if archive is not None:
                member = archive_check(fileobj=archive, manifest=manifest)
                params = {"campaign": campaign.slug, "archive": archive_store(fileobj=archive), "manifest": member}
            else:
                found = server_path_resolve(server_path=form.cleaned_data["server_path"].strip(), manifest=manifest)
                params = {"campaign": campaign.slug, "manifest": str(found), "media_root": None}
            job = job_create(kind="import_items", params=params, campaign=campaign, created_by=request.user)
            try:
                job_enqueue(job=job)
            except ServiceError:
                pass  # eager Celery only: the job ran here and its row holds the one-line reason
            return redirect("job-detail", job_id=job.pk)
        except ServiceError as exc:
            form.add_error(None, exc.message)
    return render(
        request,
        "frontend/manage/import.html",
        {
            "campaign": campaign,
            "form": form,
            "jobs": campaign_jobs(campaign=campaign, kind="import_items", user=request.user),
        },
        status=400 if form.errors else 200,
    )


# --------------------------------------------------------------------------------------------- golden


@admin_required
def golden(request, slug: str):
    campaign = _campaign(slug)
    set_form = GoldenSetForm(request.POST if request.POST.get("action") == "sample" else None)
    scores_form = GoldenScoresForm(
        request.POST if request.POST.get("action") == "scores" else None,
        request.FILES if request.POST.get("action") == "scores" else None,
    )
    if request.method == "POST":
        try:
            if request.POST.get("action") == "sample" and set_form.is_valid():
                result = golden_set_create(
                    campaign=campaign,
                    size=set_form.cleaned_data.get("size"),
                    fraction=set_form.cleaned_data.get("fraction"),
                    seed=set_form.cleaned_data.get("seed"),
                )
                messages.success(
                    request,
                    f"The golden set has {result['size']} item{'s' if result['size'] != 1 else ''} "
                    f"({result['added']} added), seed {result['seed']}.",
                )
                return redirect("manage-golden", slug=slug)
            if request.POST.get("action") == "scores" and scores_form.is_valid():
                upload = scores_form.cleaned_data["scores"]
                if upload.size > MAX_GOLDEN_CSV:
                    raise ServiceError(f"the file is too large (at most {MAX_GOLDEN_CSV // 2**20} MB)")
                try:
                    text = upload.read().decode("utf-8-sig")
                except UnicodeDecodeError:
                    raise ServiceError("the file is not UTF-8 text: save it as CSV (UTF-8)") from None
                result = golden_import(campaign=campaign, data=text)
                messages.success(
                    request, f"Golden scores imported for {result['items']} item{'s' if result['items'] != 1 else ''}."
                )
                return redirect("manage-golden", slug=slug)
        except ServiceError as exc:
            (set_form if request.POST.get("action") == "sample" else scores_form).add_error(None, exc.message)
    bad = set_form.errors or scores_form.errors
    return render(
        request,
        "frontend/manage/golden.html",
        {
            "campaign": campaign,
            "overview": golden_overview(campaign=campaign),
            "set_form": set_form,
            "scores_form": scores_form,
        },
        status=400 if bad else 200,
    )


# ---------------------------------------------------------------------------------------------- users


@admin_required
def users(request):
    create = UserCreateForm(request.POST if request.POST.get("action") == "create" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "create" and create.is_valid():
                data = create.cleaned_data
                if user_list().filter(username=data["username"]).exists():
                    raise ServiceError(f"an account {data['username']!r} exists already: change its roles below")
                with transaction.atomic():
                    roles = data["roles"] or ["annotator"]
                    user = user_add(username=data["username"], role=roles[0], password=data["password"])
                    if data.get("email"):
                        user.email = data["email"]
                        user.save(update_fields=["email"])
                    user_roles_set(user=user, roles=roles, by=request.user)
                messages.success(request, f"Account {user.username} created with {', '.join(roles)}.")
                return redirect("manage-users")
            if action in ("roles", "activate", "deactivate"):
                person_id = request.POST.get("user", "")
                person = user_list().filter(pk=int(person_id)).first() if person_id.isdigit() else None
                if person is None:
                    raise ServiceError("no such account")
                if action == "roles":
                    form = UserRolesForm(request.POST)
                    if not form.is_valid():
                        raise ServiceError("choose roles from the list")
                    roles = user_roles_set(user=person, roles=form.cleaned_data["roles"], by=request.user)
                    messages.success(request, f"{person.username}: {', '.join(roles) or 'no role'}.")
                else:
                    user_active_set(user=person, active=action == "activate", by=request.user)
                    messages.success(
                        request,
                        f"{person.username} can {'log in again' if action == 'activate' else 'no longer log in'}.",
                    )
                return redirect(request.get_full_path())
        except ServiceError as exc:
            if action == "create":
                create.add_error(None, exc.message)
            else:
                messages.error(request, f"Not saved: {exc.message}.")
                return redirect(request.get_full_path())
    search, role = request.GET.get("q", "").strip(), request.GET.get("role", "")
    page = Paginator(user_list(search=search, role=role), USERS_PER_PAGE).get_page(request.GET.get("page"))
    for person in page.object_list:
        person.role_names = list(ROLES) if person.is_superuser else sorted(g.name for g in person.role_groups)
    return render(
        request,
        "frontend/manage/users.html",
        {
            "page": page,
            "create": create,
            "roles": ROLES,
            "search": search,
            "role": role,
        },
        status=400 if create.errors else 200,
    )

"""Every model in the Django admin, with list filters and search. Counters and scrutiny figures are
read-only here: the services own them."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from . import models as m


class CampaignForm(forms.ModelForm):
    """The same rules as the command line and the API (services.campaigns.campaign_validate)."""

    class Meta:
        model = m.Campaign
        fields = "__all__"  # noqa: DJ007  (every field of the campaign is the admin's to set; clean() validates)

    def clean(self):
        from core.errors import InvalidInput

        from .services.campaigns import campaign_validate

        cleaned = super().clean()
        if self.errors or cleaned is None:
            return cleaned
        candidate = self.instance
        for field, value in cleaned.items():
            setattr(candidate, field, value)
        try:
            campaign_validate(candidate)
        except InvalidInput as exc:
            raise ValidationError(exc.message) from None
        return cleaned


@admin.register(m.Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = (
        "slug",
        "name",
        "is_active",
        "ratings_per_image",
        "ratings_per_video",
        "batch_size",
        "golden_per_batch",
        "scrutiny_method",
        "min_golden",
    )
    list_filter = ("is_active", "rate_quality", "rate_alignment", "scrutiny_method", "scrutiny_measure")
    search_fields = ("slug", "name")

    def save_model(self, request, obj, form, change):
        # Items carry their own target (assignment reads it): keep them in step, as campaign_update does.
        super().save_model(request, obj, form, change)
        if change:
            from .services.campaigns import campaign_targets_refresh

            campaign_targets_refresh(campaign=obj, changed=set(form.changed_data))


@admin.register(m.Generator)
class GeneratorAdmin(admin.ModelAdmin):
    list_display = ("name", "media_type")
    list_filter = ("media_type",)
    search_fields = ("name",)


@admin.register(m.Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ("__str__", "category", "subcategory", "word_count")
    list_filter = ("category",)
    search_fields = ("text", "category", "subcategory")
    readonly_fields = ("text_sha256",)


@admin.register(m.Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("item_id", "campaign", "media_type", "generator", "is_golden", "active_count", "target")
    list_filter = ("campaign", "media_type", "is_golden", "generator")
    search_fields = ("item_id", "sha256", "prompt__text")
    raw_id_fields = ("prompt",)
    readonly_fields = ("active_count", "sha256")
    list_select_related = ("campaign", "generator")


@admin.register(m.AnnotatorProfile)
class AnnotatorProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "is_paused", "is_vendor")
    list_filter = ("is_paused", "is_vendor")
    search_fields = ("user__username",)


@admin.register(m.GoldenScore)
class GoldenScoreAdmin(admin.ModelAdmin):
    list_display = ("item", "dimension", "score", "n_experts", "source")
    list_filter = ("dimension", "source", "item__campaign")
    search_fields = ("item__item_id",)
    raw_id_fields = ("item",)


@admin.register(m.Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "annotator", "kind", "status", "decision", "decision_source", "created_at")
    list_filter = ("campaign", "kind", "status", "decision", "decision_source")
    search_fields = ("annotator__username", "external_ref")
    # Decisions change only through batch_decide (the approval desk /desk/ or the API), which keeps
    # Item.active_count in step; editing them here would bypass it.
    readonly_fields = (
        "scrutiny",
        "auto_decision",
        "auto_reason",
        "scrutinized_at",
        "decision",
        "decision_source",
        "decision_reason",
        "decided_by",
        "decided_at",
    )
    list_select_related = ("campaign", "annotator")


@admin.register(m.Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("id", "batch", "annotator", "item", "status", "lease_expires_at")
    list_filter = ("status", "is_golden")
    search_fields = ("annotator__username", "item__item_id")
    raw_id_fields = ("batch", "item", "annotator")


@admin.register(m.Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ("id", "annotator", "item", "batch", "quality", "alignment", "duration_ms", "created_at")
    list_filter = ("batch__campaign", "batch__decision")
    search_fields = ("annotator__username", "item__item_id")
    raw_id_fields = ("batch", "item", "annotator", "task")


@admin.register(m.DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "method", "source", "created_at", "checksum")
    list_filter = ("campaign", "method", "source")
    search_fields = ("campaign__slug", "checksum")

    def has_change_permission(self, request, obj=None):  # immutable
        return False


@admin.register(m.ItemScore)
class ItemScoreAdmin(admin.ModelAdmin):
    list_display = ("version", "item", "dimension", "mos", "std", "n", "ci95")
    list_filter = ("dimension", "version")
    search_fields = ("item__item_id",)
    raw_id_fields = ("item", "version")


@admin.register(m.AnnotatorStat)
class AnnotatorStatAdmin(admin.ModelAdmin):
    list_display = ("version", "annotator", "dimension", "bias", "inconsistency", "n", "rejected")
    list_filter = ("dimension", "rejected", "version")
    search_fields = ("annotator__username",)


@admin.register(m.AnnotatorEvidence)
class AnnotatorEvidenceAdmin(admin.ModelAdmin):
    list_display = ("annotator", "campaign", "n_golden", "p_genuine", "updated_at")
    list_filter = ("campaign",)
    search_fields = ("annotator__username",)
    readonly_fields = ("campaign", "annotator", "figures", "habits", "n_golden", "p_genuine", "updated_at")

    def has_add_permission(self, request):  # kept by scrutiny
        return False


@admin.register(m.AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "campaign", "batch", "subject", "source", "actor", "before", "after")
    list_filter = ("kind", "source", "campaign")
    search_fields = ("subject__username", "actor__username", "reason")

    # The audit trail is append-only: nobody edits or deletes a record.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(m.ReasonTemplate)
class ReasonTemplateAdmin(admin.ModelAdmin):
    list_display = ("text", "created_by", "created_at")
    search_fields = ("text",)


@admin.register(m.Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "campaign", "status", "progress", "total", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("message", "error")


@admin.register(m.ItemFlag)
class ItemFlagAdmin(admin.ModelAdmin):
    """Flags from the rating page; decided on the desk (/desk/flags/)."""

    list_display = ("item", "reason", "annotator", "status", "created_at")
    list_filter = ("status", "reason", "campaign")
    raw_id_fields = ("item", "annotator", "task", "resolved_by")

"""Forms of the admins' pages. They validate with the same rules as the command line and the API
(services.campaigns.campaign_validate, the golden and user services) and save through those services."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from annotation.models import DIMENSIONS, Campaign
from annotation.services.campaigns import SETTABLE, campaign_validate
from core.errors import InvalidInput
from core.roles import ROLES

LEVELS = (1, 2, 3, 4, 5)
# Settings in the order the form shows them, grouped (the model's help_text is each field's hint).
GROUPS = (
    ("About", ("name", "instructions", "is_active")),
    ("What annotators rate", ("rate_quality", "rate_alignment", "require_full_video")),
    (
        "Ratings and batches",
        (
            "ratings_per_image",
            "ratings_per_video",
            "batch_size",
            "lease_minutes",
            "ci_width_threshold",
            "max_ratings_per_item",
        ),
    ),
    (
        "Golden items and scrutiny",
        (
            "golden_per_batch",
            "golden_min_per_batch",
            "golden_max_per_batch",
            "expert_ratings_per_golden",
            "scrutiny_method",
            "min_golden",
            "approve_probability",
            "reject_probability",
            "scrutiny_measure",
            "approve_threshold",
            "reject_threshold",
        ),
    ),
    (
        "How many ratings, which items first",
        ("overlap_policy", "min_ratings_per_image", "min_ratings_per_video", "overlap_ci_target", "selection_policy"),
    ),
)
FIELDS = tuple(f for _, names in GROUPS for f in names)
assert set(FIELDS) | {"anchors"} == SETTABLE, "every campaign setting is on the form"


def anchor_field_name(dimension: str, level: int) -> str:
    return f"anchor_{dimension}_{level}"


class CampaignForm(forms.ModelForm):
    """Every setting of a campaign. The anchors (example text per level and dimension) are ten text
    fields; empty ones use the built-in text."""

    class Meta:
        model = Campaign
        fields = ("slug", *FIELDS)
        widgets = {"instructions": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        if editing:
            del self.fields["slug"]
        anchors: dict = self.instance.anchors if isinstance(self.instance.anchors, dict) else {}
        for dim in DIMENSIONS:
            own: dict = anchors[dim] if isinstance(anchors.get(dim), dict) else {}
            for level in LEVELS:
                self.fields[anchor_field_name(dim, level)] = forms.CharField(
                    required=False,
                    max_length=300,
                    label=f"{dim} {level}",
                    initial=str(own.get(str(level)) or own.get(level) or ""),
                )

    def groups(self):
        """(title, [bound fields]) for the template, in GROUPS order."""
        return [(title, [self[f] for f in names]) for title, names in GROUPS]

    def anchor_rows(self):
        return [(dim, [self[anchor_field_name(dim, level)] for level in LEVELS]) for dim in DIMENSIONS]

    def anchors(self) -> dict:
        out: dict[str, dict[str, str]] = {}
        for dim in DIMENSIONS:
            levels = {str(level): self.cleaned_data.get(anchor_field_name(dim, level), "").strip() for level in LEVELS}
            levels = {k: v for k, v in levels.items() if v}
            if levels:
                out[dim] = levels
        return out

    def clean(self):
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        candidate = Campaign(**{f.name: getattr(self.instance, f.name) for f in Campaign._meta.concrete_fields})
        candidate.slug = cleaned.get("slug") or self.instance.slug
        for field in FIELDS:
            if field in cleaned:
                setattr(candidate, field, cleaned[field])
        candidate.anchors = self.anchors()
        try:
            campaign_validate(candidate)
        except InvalidInput as exc:
            raise ValidationError(exc.message) from None
        return cleaned

    def settings(self) -> dict:
        """The cleaned settings as keyword arguments for campaign_create / campaign_update."""
        values = {f: self.cleaned_data[f] for f in FIELDS if f in self.cleaned_data}
        values["anchors"] = self.anchors()
        return values


class ImportForm(forms.Form):
    archive = forms.FileField(
        required=False, label="A zip: manifest.csv or manifest.jsonl at its top level, plus the media"
    )
    server_path = forms.CharField(
        required=False, max_length=1000, label="Or a folder on the server (inside the import roots)"
    )
    manifest = forms.CharField(
        required=False, max_length=300, label="Manifest file name (optional: found when there is one)"
    )

    def clean(self):
        cleaned = super().clean() or {}
        if bool(cleaned.get("archive")) == bool((cleaned.get("server_path") or "").strip()):
            raise ValidationError("Choose exactly one: a zip to upload, or a folder on the server.")
        return cleaned


class GoldenSetForm(forms.Form):
    size = forms.IntegerField(required=False, min_value=1, label="Golden items (the set grows to this size)")
    fraction = forms.FloatField(
        required=False, min_value=0.0001, max_value=1, label="Or a share of the items (0.05 = 5%)"
    )
    seed = forms.IntegerField(required=False, min_value=0, label="Seed (empty: a random one, shown afterwards)")

    def clean(self):
        cleaned = super().clean() or {}
        if (cleaned.get("size") is None) == (cleaned.get("fraction") is None):
            raise ValidationError("Give either a number of golden items or a share, not both.")
        return cleaned


class GoldenScoresForm(forms.Form):
    scores = forms.FileField(label="Golden scores (CSV: item_id, quality, alignment)")


ROLE_CHOICES = [(r, r) for r in ROLES]


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        min_length=8,
        label="Password (at least 8 characters)",
    )
    roles = forms.MultipleChoiceField(choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple, initial=["annotator"])


class UserRolesForm(forms.Form):
    roles = forms.MultipleChoiceField(choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple, required=False)

from django.contrib import admin

from .models import GenerationJob, GenerationOutput, GeneratorSpec, PromptSet, Taxonomy, TaxonomyEntry


class TaxonomyEntryInline(admin.TabularInline):
    model = TaxonomyEntry
    extra = 0


@admin.register(Taxonomy)
class TaxonomyAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "campaign", "is_builtin")
    inlines = [TaxonomyEntryInline]


@admin.register(PromptSet)
class PromptSetAdmin(admin.ModelAdmin):
    list_display = ("slug", "campaign", "taxonomy", "created_at")


@admin.register(GeneratorSpec)
class GeneratorSpecAdmin(admin.ModelAdmin):
    list_display = ("generator", "kind", "updated_at")


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "status", "planned", "to_make", "created_at")
    list_filter = ("status",)


@admin.register(GenerationOutput)
class GenerationOutputAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "generator", "prompt", "seed", "status", "worker")
    list_filter = ("status",)
    raw_id_fields = ("job", "prompt", "generator", "item")

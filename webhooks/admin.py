from django.contrib import admin

from .models import Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("campaign", "url", "is_active", "created_at")
    list_filter = ("is_active", "campaign")
    exclude = ("secret",)  # shown once on the webhooks page, never again


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("event", "endpoint", "status", "attempts", "response_status", "response_ms", "created_at")
    list_filter = ("status", "event")
    readonly_fields = [f.name for f in Delivery._meta.fields]

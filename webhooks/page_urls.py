"""The webhooks page (mounted at the site root)."""

from django.urls import path

from . import views

urlpatterns = [
    path("webhooks/", views.index, name="webhooks"),
    path("webhooks/<slug:slug>/", views.campaign_page, name="webhooks-campaign"),
]

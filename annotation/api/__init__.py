"""Thin DRF views: validate input, call one service, serialize output. One module per area, each with
its own `urlpatterns`."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from annotation.models import Campaign


@login_required
def home(request):
    campaigns = Campaign.objects.filter(is_active=True).only("slug", "name", "instructions")
    return render(request, "frontend/home.html", {"campaigns": campaigns})

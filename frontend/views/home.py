"""Server-rendered pages. One module per audience: annotators, admins (approval desk), researchers."""

from django.shortcuts import render

from annotation.selectors.annotate import active_campaigns

from ..access import signed_in


@signed_in
def home(request):
    return render(request, "frontend/home.html", {"campaigns": active_campaigns()})

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render


def simulator(request: HttpRequest) -> HttpResponse:
    if not settings.SIMULATOR_ENABLED:
        raise Http404("the simulator is disabled")
    return render(request, "wechat/simulator.html")

"""``/health/`` for a load balancer and ``/metrics`` for Prometheus, answered before any other middleware.

A load balancer and Prometheus reach each web process by its own address, over plain HTTP, with no session: so
these two paths are answered first, with no redirect to HTTPS, no check of the Host header against
ALLOWED_HOSTS and no cookie. ``/health/`` says only fixed words (``monitoring.health``); ``/metrics`` answers the
addresses and networks of METRICS_ALLOWED_IPS, or a request bearing ``Authorization: Bearer METRICS_TOKEN``, and
is 403 to anyone else.
"""

import hmac
import ipaddress
import json

from django.db import DatabaseError
from django.http import HttpResponse

from contactgroups import monitoring
from contactgroups.conf import app_settings

HEALTH_PATH = "/health/"
METRICS_PATH = "/metrics"
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def may_read_metrics(request) -> bool:
    token = app_settings.METRICS_TOKEN
    offered = request.META.get("HTTP_AUTHORIZATION", "")
    if token and hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(allowed, strict=False) for allowed in app_settings.METRICS_ALLOWED_IPS)


class Probes:
    """Answer ``/health/`` and ``/metrics``; hand every other request on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == HEALTH_PATH:
            healthy, checks = monitoring.health()
            body = {"status": "ok" if healthy else "unavailable", "checks": checks}
            response = HttpResponse(json.dumps(body), content_type="application/json", status=200 if healthy else 503)
        elif request.path == METRICS_PATH:
            if not may_read_metrics(request):
                response = HttpResponse("Forbidden\n", content_type="text/plain", status=403)
            else:
                try:
                    response = HttpResponse(monitoring.metrics_text(), content_type=PROMETHEUS_TEXT)
                except DatabaseError:
                    response = HttpResponse("database unreachable\n", content_type="text/plain", status=503)
        else:
            return self.get_response(request)
        response["Cache-Control"] = "no-store"
        return response

"""Every URL of the admin site, made concrete for one row of each model: what the access and XSS tests walk."""

import re

from django.contrib.contenttypes.models import ContentType
from django.urls import URLResolver, get_resolver

from contactgroups.models import ChatUser, ContactGroup, ContactItem, SyncAttempt

LOGIN_URL = "/admin/login/"


def _admin_routes() -> list[str]:
    """Every URL of the admin site as a template ("/admin/contactgroups/contactgroup/{object_id}/change/"),
    custom ones included; login and logout, which must answer anyone, left out."""
    admin_resolver = next(p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "admin")
    routes = []

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
                continue
            if pattern.name in ("login", "logout"):
                continue
            text = str(pattern.pattern)
            if pattern.name == "app_list":
                routes.append(prefix + "{app_label}/")
            elif "(?P<url>" in text:
                routes.append(prefix + "contactgroups/no-such-page/")
            else:
                routes.append(prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text))

    walk(admin_resolver.url_patterns, "/admin/")
    return routes


ADMIN_ROUTES = _admin_routes()
APP_MODEL_ROUTES = [route for route in ADMIN_ROUTES if re.match(r"/admin/contactgroups/\w+/", route)
                    and "no-such-page" not in route]


def concrete(route: str, rows: dict) -> str:
    """The URL of ``route`` for the rows: the object id of the model the route belongs to."""
    model = re.match(r"/admin/\w+/(\w+)/", route)
    obj = rows.get(model.group(1) if model else "contactgroup", rows["contactgroup"])
    values = {"app_label": "contactgroups", "content_type_id": ContentType.objects.get_for_model(obj).pk}
    return route.format_map(_Default(values, default=obj.pk))


class _Default(dict):
    """A mapping that answers ``default`` for any other name (the object id, whatever a view calls it)."""

    def __init__(self, values, default):
        super().__init__(values)
        self.default = default

    def __missing__(self, key):
        return self.default


def counts() -> tuple:
    return (ChatUser.objects.count(), ContactGroup.objects.count(), ContactItem.objects.count(),
            SyncAttempt.objects.count(), ContactGroup.objects.filter(state=ContactGroup.State.DELETED).count())


def redirects_to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(f"{LOGIN_URL}?next=")



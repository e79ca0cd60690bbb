"""The admin's language: chosen on any page (Django's set_language), kept for each staff member, else the browser's."""

from django.conf import settings
from django.utils import translation
from django.views.i18n import set_language as django_set_language

from contactgroups.models import StaffPreference


def set_language(request):
    """Django's set_language, which keeps the choice in a cookie; a signed-in staff member keeps it too."""
    response = django_set_language(request)
    language = request.POST.get("language")
    if (request.method == "POST" and request.user.is_authenticated and language
            and translation.check_for_language(language) and language in dict(settings.LANGUAGES)):
        StaffPreference.objects.update_or_create(user=request.user, defaults={"language": language})
    return response


class StaffLanguageMiddleware:
    """In a browser that has made no choice, a signed-in staff member's page is in the language they chose.

    Placed after AuthenticationMiddleware (LocaleMiddleware cannot see the user). The choice made in this browser
    (the language cookie) wins; the first page in a new browser sets that cookie from the kept choice.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        chosen = None
        if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES and request.user.is_authenticated:
            chosen = (StaffPreference.objects.filter(user=request.user).values_list("language", flat=True)
                      .first())
            if chosen:
                translation.activate(chosen)
                request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        if chosen:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, chosen, max_age=settings.LANGUAGE_COOKIE_AGE,
                                path=settings.LANGUAGE_COOKIE_PATH, domain=settings.LANGUAGE_COOKIE_DOMAIN,
                                secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                                samesite=settings.LANGUAGE_COOKIE_SAMESITE)
        return response

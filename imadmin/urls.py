from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "imadmin: Chat conversation groups"
admin.site.site_title = "imadmin"
admin.site.index_title = "Conversation groups back-office"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
]

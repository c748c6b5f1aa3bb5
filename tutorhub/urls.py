"""Root URLs. The canonical API lives under /api/v1/; each app's urls.py holds its paths
relative to that prefix. Seed documents' other paths are aliases in tutorhub/compat/."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from tutorhub.core import docs
from tutorhub.core import views as core_views

handler400 = "tutorhub.core.exceptions.handler400"
handler403 = "tutorhub.core.exceptions.handler403"
handler404 = "tutorhub.core.exceptions.handler404"
handler500 = "tutorhub.core.exceptions.handler500"

api_v1 = [
    path("", include("tutorhub.accounts.urls")),
    path("", include("tutorhub.learning.urls")),
    path("", include("tutorhub.chat.urls")),
    path("", include("tutorhub.knowledge.urls")),
    path("", include("tutorhub.courses.urls")),
    path("", include("tutorhub.assessments.urls")),
    path("", include("tutorhub.homework.urls")),
    path("", include("tutorhub.billing.urls")),
    path("", include("tutorhub.billing.urls_payments")),
    path("", include("tutorhub.engagement.urls")),
    path("", include("tutorhub.engagement.urls_webhooks")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Both pages load their scripts from files (no inline script) so they work under the CSP:
    # the split view serves Swagger UI's start-up script from ?script.
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/docs/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="core/redoc.html"), name="redoc"),
    path("api/v1/docs/redoc/redoc.standalone.js", docs.redoc_bundle, name="redoc-bundle"),
    path("api/v1/", include(api_v1)),
    path("", include("tutorhub.compat.urls")),
    path("", include("tutorhub.web.urls")),
]

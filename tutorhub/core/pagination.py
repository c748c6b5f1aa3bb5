from __future__ import annotations

from rest_framework.pagination import PageNumberPagination

from tutorhub.core.compiled import CompiledQuery

# Past this page number a compiled page is left to DRF's path (an offset too large for the
# database's integer is DRF's 404 there, not an overflow here).
_MAX_COMPILED_PAGE = 1_000_000


class StandardPagination(PageNumberPagination):
    """`{count, next, previous, results}` with `page` and `page_size` (at most 100)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_compiled(self, query: CompiledQuery, request, **values) -> list | None:
        """paginate_queryset() for a compiled query (core.compiled): the page's rows, or None when
        the request is not one it serves, for the caller to take DRF's path instead.

        It serves a request whose only parameters are `page` (a plain number) and `page_size`:
        any filter, search or ordering parameter changes the SQL. The page is read first, and the
        COUNT runs only when the page is full: a page with fewer rows is the last one, so the
        count is its offset plus its rows. An empty page past the first is left to DRF's path,
        which answers it with its own 404. `count`, `next` and `previous` are DRF's."""
        if request.query_params.keys() - {self.page_query_param, self.page_size_query_param}:
            return None
        raw = request.query_params.get(self.page_query_param) or "1"
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= _MAX_COMPILED_PAGE:
            return None  # "last", "2.0", "0", ...: DRF's path, with its answers
        number, page_size = int(raw), self.get_page_size(request)
        offset = (number - 1) * page_size
        rows = query.page(limit=page_size, offset=offset, **values)
        if not rows and number > 1:
            return None
        paginator = self.django_paginator_class(rows, page_size)
        paginator.count = query.count(**values) if len(rows) == page_size else offset + len(rows)
        # _get_page is Paginator's hook for building a Page: `rows` already is this page.
        self.page = paginator._get_page(rows, number, paginator)
        self.request = request
        if paginator.num_pages > 1 and self.template is not None:
            self.display_page_controls = True  # as paginate_queryset (the browsable API's controls)
        return rows


class CompiledListMixin:
    """A viewset's plain list through a compiled query (core.compiled): `compiled_list` is the
    query, `compiled_list_values()` its parameters for this request (None: not this route's
    query, e.g. a nested route's extra filter). Requests the paginator's paginate_compiled()
    does not serve (filters, search, ordering) take DRF's list."""

    compiled_list: CompiledQuery

    def compiled_list_values(self) -> dict | None:
        return {"user": self.request.user}

    def list(self, request, *args, **kwargs):
        paginator, values, page = self.paginator, self.compiled_list_values(), None
        if values is not None and hasattr(paginator, "paginate_compiled"):
            page = paginator.paginate_compiled(self.compiled_list, request, **values)
        if page is None:
            return super().list(request, *args, **kwargs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

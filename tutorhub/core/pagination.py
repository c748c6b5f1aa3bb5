from __future__ import annotations

from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.pagination import PageNumberPagination

from tutorhub.core.compiled import CompiledQuery
from tutorhub.core.filters import FilterBackend

# Past this page number a compiled page is left to DRF's path (an offset too large for the
# database's integer is DRF's 404 there, not an overflow here).
_MAX_COMPILED_PAGE = 1_000_000


class StandardPagination(PageNumberPagination):
    """`{count, next, previous, results}` with `page` and `page_size` (at most 100)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_compiled(self, query: CompiledQuery, request, handled: tuple[str, ...] = (), **values) -> list | None:
        """paginate_queryset() for a compiled query (core.compiled): the page's rows, or None when
        the request is not one it serves, for the caller to take DRF's path instead.

        It serves a request whose only parameters are `page` (a plain number), `page_size` and
        those in `handled` (which the caller has built `query` for): any other filter, search or
        ordering parameter changes the SQL. The page is read first, and the
        COUNT runs only when the page is full: a page with fewer rows is the last one, so the
        count is its offset plus its rows. An empty page past the first is left to DRF's path,
        which answers it with its own 404. `count`, `next` and `previous` are DRF's."""
        if request.query_params.keys() - {self.page_query_param, self.page_size_query_param, *handled}:
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


# The filter backends whose only effect, for a request with no parameter but `ordering` (and
# the page's), is OrderingFilter's order_by: the API's defaults (settings.REST_FRAMEWORK).
_ORDERING_ONLY_BACKENDS = frozenset({FilterBackend, SearchFilter, OrderingFilter})


class CompiledListMixin:
    """A viewset's plain list through a compiled query (core.compiled): `compiled_list` is the
    query, `compiled_list_values()` its parameters for this request (None: not this route's
    query, e.g. a nested route's extra filter). A single-field `?ordering=` from the view's
    explicit `ordering_fields` gets its own compiled query. Requests the paginator's
    paginate_compiled() does not serve (filters, search, other orderings) take DRF's list."""

    compiled_list: CompiledQuery

    def compiled_list_values(self) -> dict | None:
        return {"user": self.request.user}

    def _compiled_query(self, request) -> tuple[CompiledQuery, tuple[str, ...]] | None:
        """The compiled query for this request's ordering, and the parameters it accounts for."""
        if getattr(self, "ordering", None):
            return None  # a default ordering compiled_list would not know about
        param = OrderingFilter.ordering_param
        if param not in request.query_params:
            return self.compiled_list, ()
        filterset_class = getattr(self, "filterset_class", None)
        if (
            not isinstance(getattr(self, "ordering_fields", None), list | tuple)
            or not set(self.filter_backends) <= _ORDERING_ONLY_BACKENDS
            or param in (getattr(self, "filterset_fields", None) or ())
            or param in getattr(filterset_class, "base_filters", {})
        ):
            return None
        # DRF's own reading of the parameter: the valid terms, or the view's default (none here).
        terms = OrderingFilter().get_ordering(request, None, self)
        if not terms:
            return self.compiled_list, (param,)
        return (self.compiled_list.ordered_by(*terms), (param,)) if len(terms) == 1 else None

    def list(self, request, *args, **kwargs):
        paginator, values, page = self.paginator, self.compiled_list_values(), None
        compiled = self._compiled_query(request) if values is not None else None
        if compiled is not None and hasattr(paginator, "paginate_compiled"):
            query, handled = compiled
            page = paginator.paginate_compiled(query, request, handled, **values)
        if page is None:
            return super().list(request, *args, **kwargs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

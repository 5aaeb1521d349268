"""Paging: one page-reading primitive and one last-page rule, and the readers a stream declares."""

from tap_openproject.paging.keyset import UpdatedAtKeyset
from tap_openproject.paging.numbered import NumberedPages
from tap_openproject.paging.page import Page, Pager, Query, page_of
from tap_openproject.paging.prefetch import Prefetched, with_prefetch
from tap_openproject.paging.routes import ProjectRoutes

__all__ = [
    "NumberedPages",
    "Page",
    "Pager",
    "ProjectRoutes",
    "Query",
    "Prefetched",
    "UpdatedAtKeyset",
    "page_of",
    "with_prefetch",
]

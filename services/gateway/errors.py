"""The gateway's own error mapping on top of ``trustscope.web`` (request ids, JSON 500, 503
``unavailable`` for outages and the error shape all live there): Elasticsearch refusing a query
(400) is the caller's parameters, not an outage and not a bug, so it is a 400 ``bad_query``."""

from __future__ import annotations

import elasticsearch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from trustscope.observability import get_logger
from trustscope.web import error_response

log = get_logger("trustscope.gateway")


def install_gateway_errors(app: FastAPI) -> None:
    @app.exception_handler(elasticsearch.BadRequestError)
    async def _query_rejected(request: Request, exc: elasticsearch.BadRequestError) -> JSONResponse:
        log.info("gateway.query_rejected", path=request.url.path, error=str(exc)[:300])
        return error_response(request, 400, "bad_query",
                              "the search backend rejected this query; check the parameters")

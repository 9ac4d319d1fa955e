"""Every API route answers its own paths, whatever order the routers are tried in (`service.api`)."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send


def test_a_request_to_every_api_route_reaches_that_route(app, client) -> None:
    reached: list[object] = []

    async def spy(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            reached.append(scope.get("endpoint"))

    routes = [
        (method, context.path, context.endpoint)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in sorted(context.methods or ())
    ]
    assert len(routes) > 60
    # without a key the route is chosen, then the request is refused before its handler runs (`client` has run the
    # lifespan, so nothing else fails first)
    spying = TestClient(spy, raise_server_exceptions=False)
    wrong = []
    for method, path, endpoint in routes:
        for value in ("1", "x"):
            reached.clear()
            spying.request(method, re.sub(r"\{[^}]+\}", value, path), follow_redirects=False)
            if reached != [endpoint]:
                wrong.append((method, path, value, reached[:]))
    assert wrong == []


def test_a_path_no_route_answers_is_a_404_problem(client) -> None:
    for path in ("/demandsx", "/demands/1/suggestionsx", "/x/demands/1/suggestions", "/healthz/1"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")


def test_the_documentation_lists_every_tag_in_its_own_order(app) -> None:
    document = app.openapi()
    listed = [tag["name"] for tag in document["tags"]]
    used = {tag for item in document["paths"].values() for op in item.values() for tag in op.get("tags", ())}
    assert sorted(listed) == sorted(used)
    assert listed[:3] == ["enterprises", "demands", "experts"] and listed[-1] == "health"

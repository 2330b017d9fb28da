"""xAPI's Alternate Request Syntax (Communication 1.3), for clients that can only send GET and POST
(cross-origin browser requests): `POST /xapi/<resource>?method=PUT` with an
`application/x-www-form-urlencoded` body holding the headers, the resource's parameters and the
request body (`content`). The middleware turns it back into the request it stands for before any
view sees it, so every xAPI resource supports it alike.
"""

import io
import json

from django.http import HttpResponse, QueryDict

from analytics.services.xapi.errors import XAPI_VERSION

PATH_PREFIX = "/xapi/"
METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Form parameters read as headers (Communication 1.3.s3.b7), by their lower-case names.
HEADER_PARAMETERS = {
    "authorization": "HTTP_AUTHORIZATION",
    "x-experience-api-version": "HTTP_X_EXPERIENCE_API_VERSION",
    "content-type": "CONTENT_TYPE",
    "content-length": "CONTENT_LENGTH",
    "if-match": "HTTP_IF_MATCH",
    "if-none-match": "HTTP_IF_NONE_MATCH",
}


def _bad_request(message):
    response = HttpResponse(json.dumps({"detail": message}), status=400, content_type="application/json")
    response["X-Experience-API-Version"] = XAPI_VERSION
    return response


def rewrite_alternate_request(request):
    """Rewrite request in place when it uses the Alternate Request Syntax; returns an error
    response when it uses it wrongly, else None."""
    if not request.path.startswith(PATH_PREFIX) or "method" not in request.GET:
        return None
    if request.method != "POST":
        return _bad_request("method: the alternate request syntax is a POST")
    if set(request.GET) != {"method"}:
        extra = sorted(set(request.GET) - {"method"})[0]
        return _bad_request(f"{extra}: with the alternate request syntax every parameter goes in the form body")
    method = request.GET["method"].upper()
    if method not in METHODS:
        return _bad_request(f"method: must be one of {', '.join(METHODS)}")
    if request.content_type != FORM_CONTENT_TYPE:
        return _bad_request(f"Content-Type: the alternate request syntax sends {FORM_CONTENT_TYPE}")
    try:
        form = QueryDict(request.body, encoding="utf-8")
    except UnicodeDecodeError:
        return _bad_request("The form body is not UTF-8.")
    parameters = QueryDict(mutable=True)
    meta = {"CONTENT_TYPE": "application/json"}
    for name, values in form.lists():
        header = HEADER_PARAMETERS.get(name.lower())
        if header:
            meta[header] = values[-1]
        elif name != "content":
            parameters.setlist(name, values)
    content = form.get("content", "").encode("utf-8")
    meta["CONTENT_LENGTH"] = str(len(content))
    request.META.update(meta)
    request._set_content_type_params(request.META)
    request.META["REQUEST_METHOD"] = request.method = method
    request.META["QUERY_STRING"] = parameters.urlencode()
    request.__dict__.pop("GET", None)
    request.__dict__.pop("headers", None)
    for cached in ("_post", "_files"):
        request.__dict__.pop(cached, None)
    request._body = content
    request._stream = io.BytesIO(content)
    request._read_started = False
    return None


class AlternateRequestSyntaxMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return rewrite_alternate_request(request) or self.get_response(request)

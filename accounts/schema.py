"""OpenAPI descriptions of the project's authentication classes (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKeyHeader"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`: a workspace API key (manage.py create_api_key).",
        }


class ApiKeyQueryScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyQueryParamAuthentication"
    name = "apiKeyQuery"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "query", "name": "apiKey"}


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.WorkspaceJWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer", bearer_format="JWT"
        )


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.WorkspaceSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}

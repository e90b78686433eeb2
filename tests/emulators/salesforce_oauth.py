"""Salesforce emulator: ``POST /services/oauth2/token`` and the sessions it issues.

Grants: ``client_credentials`` (client id/secret in the body or HTTP Basic), ``password``
(password = password + security token) and ``urn:ietf:params:oauth:grant-type:jwt-bearer``
(RS256 assertion; iss = client id, sub = username, aud, exp). Errors are OAuth JSON with 400.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from tests.emulators.salesforce_schema import make_id

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


@dataclass
class User:
    username: str
    password: str
    security_token: str
    user_id: str


@dataclass
class Client:
    client_id: str
    secret: str | None = None
    run_as: str | None = None
    public_key: Any = None


@dataclass(frozen=True)
class Session:
    token: str
    user_id: str
    username: str
    client_id: str | None


class OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.body = {"error": error, "error_description": description}


def _load_public_key(pem: str | bytes) -> Any:
    data = pem.encode() if isinstance(pem, str) else pem
    if b"BEGIN CERTIFICATE" in data:  # connected apps take an X.509 certificate
        return x509.load_pem_x509_certificate(data).public_key()
    return load_pem_public_key(data)


class OAuthServer:
    """Connected apps, users, and the access tokens issued for them."""

    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self.instance_url = ""
        self.users: dict[str, User] = {}
        self.clients: dict[str, Client] = {}
        self.sessions: dict[str, Session] = {}
        self.audiences: set[str] = set(DEFAULT_AUDIENCES)
        self._serial = 0

    def add_user(self, username: str, password: str, security_token: str = "") -> str:
        self._serial += 1
        user = User(username, password, security_token, make_id("005", 0x4C0000 + self._serial))
        self.users[username] = user
        return user.user_id

    def register_client(self, client_id: str, client_secret: str, run_as: str | None = None) -> None:
        client = self.clients.setdefault(client_id, Client(client_id))
        client.secret = client_secret
        client.run_as = run_as

    def register_jwt_key(self, client_id: str, public_key_pem: str | bytes) -> None:
        self.clients.setdefault(client_id, Client(client_id)).public_key = _load_public_key(public_key_pem)

    def issue(self, username: str, client_id: str | None = None) -> Session:
        """Create a session for a known user; the token looks like ``00D…!AQ…``."""
        user = self.users[username]
        token = f"{self.org_id[:15]}!AQ{secrets.token_urlsafe(72).replace('-', '.')}"
        session = Session(token, user.user_id, username, client_id)
        self.sessions[token] = session
        return session

    def session_for(self, token: str) -> Session | None:
        return self.sessions.get(token)

    def expire_all(self) -> None:
        self.sessions.clear()

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        """Answer a token request: ``(status, json body)``."""
        try:
            grant = form.get("grant_type", "")
            if grant == "client_credentials":
                client = self._client(*self._client_credentials(form, authorization))
                if client.run_as is None:
                    raise OAuthError("invalid_grant", "no client credentials user enabled")
                return 200, self._response(self.issue(client.run_as, client.client_id), client)
            if grant == "password":
                client = self._client(form.get("client_id", ""), form.get("client_secret"))
                user = self.users.get(form.get("username", ""))
                if user is None or form.get("password") != user.password + user.security_token:
                    raise OAuthError("invalid_grant", "authentication failure")
                return 200, self._response(self.issue(user.username, client.client_id), client)
            if grant == JWT_GRANT:
                return 200, self._jwt_bearer(form.get("assertion", ""))
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        except OAuthError as error:
            return 400, error.body

    @staticmethod
    def _client_credentials(form: dict[str, str], authorization: str | None) -> tuple[str, str | None]:
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_client", "invalid client credentials") from None
            client_id, _, secret = decoded.partition(":")
            return client_id, secret
        return form.get("client_id", ""), form.get("client_secret")

    def _client(self, client_id: str, secret: str | None) -> Client:
        client = self.clients.get(client_id)
        if client is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if client.secret is None or secret is None or not hmac.compare_digest(client.secret, secret):
            raise OAuthError("invalid_client", "invalid client credentials")
        return client

    def _jwt_bearer(self, assertion: str) -> dict[str, Any]:
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
        client = self.clients.get(str(unverified.get("iss", "")))
        if client is None or client.public_key is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        try:
            claims = jwt.decode(
                assertion,
                client.public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        if not any(a in self.audiences or a == self.instance_url for a in audiences):
            raise OAuthError("invalid_grant", "Audience validation failed")
        try:
            expires = int(claims["exp"])  # simple-salesforce sends exp as a string of digits
        except (KeyError, TypeError, ValueError):
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if expires < time.time():
            raise OAuthError("invalid_grant", "invalid assertion")
        user = self.users.get(str(claims.get("sub", "")))
        if user is None:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        session = self.issue(user.username, client.client_id)
        # The documented JWT bearer response carries no signature or issued_at.
        return {
            "access_token": session.token,
            "scope": "api",
            "instance_url": self.instance_url,
            "id": self._identity_url(session),
            "token_type": "Bearer",
        }

    def _identity_url(self, session: Session) -> str:
        return f"{self.instance_url}/id/{self.org_id}/{session.user_id}"

    def _response(self, session: Session, client: Client) -> dict[str, Any]:
        issued_at = str(int(time.time() * 1000))
        identity = self._identity_url(session)
        digest = hmac.new((client.secret or "").encode(), (identity + issued_at).encode(), hashlib.sha256)
        return {
            "access_token": session.token,
            "signature": base64.b64encode(digest.digest()).decode(),
            "scope": "api",
            "instance_url": self.instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }

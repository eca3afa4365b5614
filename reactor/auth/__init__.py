"""Authentication: JWT providers from ``auth.py``, user identities and the admin key.

An app's ``auth.py`` lists ``providers`` (OIDC issuers and custom JWT issuers,
in the shape of Convex's ``auth.config.ts``). ``Authenticator`` turns a user's
JWT into the identity dict ``ctx.auth.get_user_identity()`` returns, and
checks the deployment admin key; every refusal is a ``reactor.errors.AuthError``
whose message says what is wrong with the token.
"""

from reactor.auth._admin import (
    ADMIN_KEY_ENV,
    ADMIN_KEY_PREFIX,
    acting_identity,
    load_or_create_admin_key,
    parse_authorization_header,
    split_acting_as,
)
from reactor.auth._config import (
    AuthConfig,
    AuthConfigError,
    AuthProvider,
    CustomJwtProvider,
    OidcProvider,
    load_auth_config,
    parse_providers,
)
from reactor.auth._identity import identity_from_claims
from reactor.auth._verify import Authenticator, VerifiedUser

__all__ = [
    "ADMIN_KEY_ENV",
    "ADMIN_KEY_PREFIX",
    "AuthConfig",
    "AuthConfigError",
    "AuthProvider",
    "Authenticator",
    "CustomJwtProvider",
    "OidcProvider",
    "VerifiedUser",
    "acting_identity",
    "identity_from_claims",
    "load_auth_config",
    "load_or_create_admin_key",
    "parse_authorization_header",
    "parse_providers",
    "split_acting_as",
]

"""Single sign-on with OpenID Connect (Authlib as the client): off unless OIDC_ISSUER is set."""

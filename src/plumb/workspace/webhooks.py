"""The ``webhooks:`` section of the workspace definition: where Plumb may send webhooks.

An endpoint has a name (what producers put in an outbox message's destination), a URL, and the
NAME of the environment variable holding its signing secret: the definition is data that lands
in the change log, so it never holds a secret. The worker refuses any URL whose host is not in
``allowed_hosts``, or that resolves to a private, loopback or otherwise internal address unless
that address lies in ``allowed_private_networks``.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
EndpointName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookEndpoint(_Strict):
    url: str = Field(description="http:// or https:// URL the JSON body is POSTed to.")
    secret_env: str = Field(
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Environment variable holding the signing secret (whsec_ + base64).",
    )
    description: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
        return value

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


class Webhooks(_Strict):
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names webhooks may go to; *.example.com allows every subdomain.",
    )
    allowed_private_networks: list[Network] = Field(
        default_factory=list,
        description="Private or loopback networks a host may resolve to, e.g. 10.0.0.0/8.",
    )
    endpoints: dict[EndpointName, WebhookEndpoint] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _endpoints_allowed(self) -> Webhooks:
        for name, endpoint in self.endpoints.items():
            if not self.host_allowed(endpoint.host):
                raise ValueError(
                    f"endpoint {name!r}: host {endpoint.host!r} is not in webhooks.allowed_hosts"
                )
        return self

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for pattern in self.allowed_hosts:
            pattern = pattern.lower().rstrip(".")
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]) and host != pattern[2:]:
                    return True
            elif host == pattern:
                return True
        return False

    def address_allowed(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        """A public address, or an internal one inside an explicitly allowed network."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in net for net in self.allowed_private_networks):
            return True
        return address.is_global and not address.is_multicast

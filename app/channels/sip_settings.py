"""Settings of the SIP door: where it listens, whom it answers, which ports carry RTP, and the
trunk (registrar and digest credentials) outbound calls go through.

From the environment as ``AVA_SIP__*`` (``AVA_SIP__ENABLED=true``, ``AVA_SIP__PORT=5070``,
``AVA_SIP__ALLOWED_PEERS=127.0.0.1,10.0.0.0/8``, ``AVA_SIP__TRUNK__USERNAME=...``).
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

Transport = Literal["udp", "tcp"]
_WILDCARDS = ("0.0.0.0", "::")


def _comma_list(value: Any) -> Any:
    """``a,b`` from an environment variable as ``["a", "b"]`` (JSON lists work too)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _all_transports() -> list[Transport]:
    return ["udp", "tcp"]


class SipTrunk(BaseModel):
    """The trunk or PBX outbound calls go through: registered to, and authenticated with
    SIP digest when it challenges."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    registrar: str | None = Field(
        None, description="host:port to REGISTER with; unset: no registration")
    proxy: str | None = Field(
        None, description="host:port outbound INVITEs go to; default: the registrar, else "
                          "the host of the dialled URI")
    domain: str | None = Field(None, description="the domain of our address of record")
    username: str = Field("ava", min_length=1)
    password: SecretStr | None = Field(None, description="digest password")
    expires_s: int = Field(300, ge=60, le=86400, description="registration interval")
    transport: Transport = Field(
        "udp", description="how the registrar and the proxy are reached: udp, or tcp (one "
                           "connection, kept for every call); a dialled URI's "
                           "';transport=' comes first")


class SipSettings(BaseModel):
    """The SIP door. Off unless ``enabled``: a server answers SIP only where it is asked to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(False, description="answer SIP calls (the server)")
    host: str = Field("127.0.0.1", description="address SIP and RTP bind to")
    port: int = Field(5070, ge=1, le=65535, description="SIP port (UDP and TCP)")
    advertised_host: str | None = Field(
        None, description="address put in Contact and SDP; default: host")
    transports: Annotated[list[Transport], NoDecode] = Field(
        default_factory=_all_transports, min_length=1)
    allowed_peers: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=lambda: [ip_network("127.0.0.0/8"), ip_network("::1/128")],
        description="addresses (or networks) whose INVITEs are answered; others get 403")
    rtp_port_min: int = Field(20000, ge=1024, le=65534)
    rtp_port_max: int = Field(20999, ge=1025, le=65535)
    max_calls: int = Field(20, ge=1, le=1000, description="calls at once; more get 503")
    jitter_buffer_ms: int = Field(60, ge=20, le=500, description="caller audio held back")
    dtmf_inter_digit_s: float = Field(
        2.0, gt=0, le=30, description="keys pressed within this of each other are one entry")
    ring_timeout_s: float = Field(45, gt=0, le=300, description="outbound: wait for an answer")
    campaign_gateway: str | None = Field(
        None, description="host:port campaign calls are dialled at (sip:<phone>@gateway; "
                          "'host:port;transport=tcp' dials over TCP); default: the trunk's "
                          "proxy, else its registrar")
    callback_number: str | None = Field(
        None, max_length=32, description="the number a voicemail left by a campaign call "
                                         "asks to call back (a contact's "
                                         "context.callback_number comes first)")
    trunk: SipTrunk = Field(default_factory=SipTrunk)
    # Transfers to a person, and flood limits (sip_transfer.py, sip_flood.py).
    transfer_to: str | None = Field(
        None, pattern=r"^sips?:[^\s<>]+$",
        description="where a call the agent hands to a person is sent with REFER "
                    "(sip:desk@pbx.example.com); unset: the agent says so and hangs up")
    transfer_timeout_s: float = Field(
        30, gt=0, le=300, description="wait for a REFER to be answered and the transfer "
                                      "to connect before hanging up")
    flood_requests_per_s: float = Field(
        20, gt=0, le=100000, description="requests outside a call per second from one "
                                         "address; more are dropped unanswered")
    flood_burst: int = Field(40, ge=1, le=100000,
                             description="requests outside a call one address may send at once")
    max_calls_per_source: int = Field(
        10, ge=1, le=1000, description="calls at once from one address; more get 503 (raise "
                                       "it when a proxy or trunk sends every call)")

    @field_validator("transports", mode="before")
    @classmethod
    def _transports(cls, value: Any) -> Any:
        return _comma_list(value)

    @field_validator("allowed_peers", mode="before")
    @classmethod
    def _peers(cls, value: Any) -> Any:
        return [ip_network(peer, strict=False) if isinstance(peer, str) else peer
                for peer in _comma_list(value)]

    @model_validator(mode="after")
    def _consistent(self) -> SipSettings:
        if self.rtp_port_max - self.rtp_port_min < 2:
            raise ValueError("rtp_port_max must be at least rtp_port_min + 2")
        if self.advertised_host is None and self.host in _WILDCARDS:
            raise ValueError("advertised_host is needed when host is a wildcard address")
        ip_address(self.media_host)  # SDP carries an address, not a name
        return self

    @property
    def media_host(self) -> str:
        """The address peers are told to send RTP and in-dialog requests to."""
        return self.advertised_host or self.host

    def allows(self, peer_host: str) -> bool:
        try:
            address = ip_address(peer_host)
        except ValueError:
            return False
        return any(address in network for network in self.allowed_peers)

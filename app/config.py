"""Application settings: defaults, then ``AVA_*`` environment variables (nested with ``__``,
e.g. ``AVA_VOICE__END_SILENCE_S=0.4``). Validated once at start."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.channels.sip_settings import SipSettings
from voice.config import VoiceConfig


def _xdg(variable: str, fallback: str) -> Path:
    return Path(os.environ.get(variable) or Path.home() / fallback) / "ava-agent"


class TwilioConfig(BaseModel):
    """Phone calls through a Twilio-compatible media stream (``/twilio/voice``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auth_token: SecretStr | None = Field(
        None, description="the account's auth token: every webhook's signature is checked "
                          "with it (unset: every Twilio request is refused)")
    public_url: str | None = Field(
        None, description="the server's address as Twilio reaches it (https://...), when "
                          "behind a proxy; signatures are computed over it")
    transfer_number: str | None = Field(None, description="where 'a person' transfers go")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AVA_", env_nested_delimiter="__",
                                      extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    data_dir: Path = Field(default_factory=lambda: _xdg("XDG_DATA_HOME", ".local/share"))
    cache_dir: Path = Field(default_factory=lambda: _xdg("XDG_CACHE_HOME", ".cache"))
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    max_input_audio_s: float = Field(3600, gt=0, description="longest WAV `app call` accepts")
    voice: VoiceConfig = Field(default_factory=VoiceConfig)
    database_url: str | None = Field(
        None, validation_alias=AliasChoices("DATABASE_URL", "AVA_DATABASE_URL"),
        description="PostgreSQL (postgresql://...) or SQLite; default: SQLite in data_dir")
    api_keys: SecretStr | None = Field(
        None, description="comma-separated admin API keys; default: one made in data_dir/api-key")
    organizations_file: Path | None = Field(
        None, description="YAML of organizations; default: the bundled sample organizations")
    widget_messages_per_s: float = Field(5, gt=0, description="rate limit per chat connection")
    widget_burst: int = Field(10, ge=1)
    chat_idle_timeout_s: float = Field(1800, gt=0, description="a chat nobody writes in ends")
    preload_speech_models: bool = Field(
        True, description="load Whisper and Piper at start, so the first voice chat waits not")
    twilio: TwilioConfig = Field(default_factory=TwilioConfig)
    tracker_compute_type: Literal["int8", "float32"] = Field(
        "int8", description="the state-tracking SLM's arithmetic: int8 is 3x faster")
    chat_tracker: Literal["slm", "slm-only", "embedding"] = "slm"
    sip: SipSettings = Field(default_factory=SipSettings)

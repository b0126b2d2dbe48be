from app.cli import main
from app.config import Settings


def test_environment_overrides_nested_voice_settings(monkeypatch):
    monkeypatch.setenv("AVA_PORT", "9090")
    monkeypatch.setenv("AVA_VOICE__END_SILENCE_S", "0.4")
    settings = Settings()
    assert settings.port == 9090
    assert settings.voice.end_silence_s == 0.4


def test_invalid_setting_is_one_line_naming_it(monkeypatch, capsys):
    monkeypatch.setenv("AVA_VOICE__END_SILENCE_S", "-3")
    assert main(["models", "prepare"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: invalid settings: voice.end_silence_s")
    assert "\n" not in err

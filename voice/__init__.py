"""Speech only: codecs, resampling, VAD and end of turn, ASR, TTS, the realtime voice session.

Knows nothing about banks, insurers or clinics, and never imports ``dialog``.
"""

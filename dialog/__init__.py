"""Conversation only: dialogue manager, context-tracking SLM, domain agents, policy.

Knows nothing of audio, and never imports ``voice`` or ``app``.
"""

"""Advisors: who they are, how they are stored and how a Twilio number finds one."""
